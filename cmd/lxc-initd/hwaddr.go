package main

import "errors"

// cmdHwaddr is not written yet.
func cmdHwaddr(e *env, args []string) error {
	return errors.New("not implemented")
}
