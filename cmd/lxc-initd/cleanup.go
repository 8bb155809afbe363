package main

import "errors"

// cmdCleanup is not written yet.
func cmdCleanup(e *env, args []string) error {
	return errors.New("not implemented")
}
