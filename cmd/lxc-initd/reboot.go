package main

import "errors"

// cmdReboot is not written yet.
func cmdReboot(e *env, args []string) error {
	return errors.New("not implemented")
}
