package main

import "errors"

// cmdStatus is not written yet.
func cmdStatus(e *env, args []string) error {
	return errors.New("not implemented")
}
