package main

import "errors"

// cmdShutdown is not written yet.
func cmdShutdown(e *env, args []string) error {
	return errors.New("not implemented")
}
