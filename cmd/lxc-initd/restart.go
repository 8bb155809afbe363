package main

import "errors"

// cmdRestart is not written yet.
func cmdRestart(e *env, args []string) error {
	return errors.New("not implemented")
}
