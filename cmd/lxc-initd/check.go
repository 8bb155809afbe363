package main

import "errors"

// cmdCheck is not written yet.
func cmdCheck(e *env, args []string) error {
	return errors.New("not implemented")
}
