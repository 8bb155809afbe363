package main

import "errors"

// cmdList is not written yet.
func cmdList(e *env, args []string) error {
	return errors.New("not implemented")
}
