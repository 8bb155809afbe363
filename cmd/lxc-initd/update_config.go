package main

import "errors"

// cmdUpdateConfig is not written yet.
func cmdUpdateConfig(e *env, args []string) error {
	return errors.New("not implemented")
}
