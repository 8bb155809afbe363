package main

import "errors"

// cmdAttach is not written yet.
func cmdAttach(e *env, args []string) error {
	return errors.New("not implemented")
}
