package main

import "errors"

// cmdStart is not written yet.
func cmdStart(e *env, args []string) error {
	return errors.New("not implemented")
}
