package main

import "errors"

// cmdConsole is not written yet.
func cmdConsole(e *env, args []string) error {
	return errors.New("not implemented")
}
