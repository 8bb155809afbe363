package main

import "errors"

// cmdAutostart is not written yet.
func cmdAutostart(e *env, args []string) error {
	return errors.New("not implemented")
}
