package main

import (
	"errors"
	"flag"
	"fmt"
)

// cmdRestart stops NAME (gracefully, -t as for stop) and starts it again
// with a new shim.
func cmdRestart(e *env, args []string) error {
	fs := flag.NewFlagSet("restart", flag.ContinueOnError)
	secs := fs.Float64("t", -1, "seconds to wait after the halt signal before the kill")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: restart NAME [-t SECONDS]")}
	}
	stopArgs := []string{pos[0]}
	if *secs >= 0 {
		stopArgs = append(stopArgs, "-t", fmt.Sprint(*secs))
	}
	if err := cmdStop(e, stopArgs); err != nil {
		return err
	}
	return cmdStart(e, []string{pos[0]})
}
