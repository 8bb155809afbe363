package main

import "errors"

// cmdStop is not written yet.
func cmdStop(e *env, args []string) error {
	return errors.New("not implemented")
}
