package main

import "errors"

// cmdCheckconfig is not written yet.
func cmdCheckconfig(e *env, args []string) error {
	return errors.New("not implemented")
}
