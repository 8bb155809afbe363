package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/lxc-shim/lxc-shim/console"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// cmdConsole attaches the caller's terminal to one of the container's
// terminals through the shim's control socket, until the user types the
// escape prefix and q. Without --tty it is /dev/tty1 when the config gives
// ttys (lxc.tty.max > 0), where a distribution runs its getty, as
// lxc-console does, and /dev/console otherwise; --tty 0 is /dev/console,
// --tty N /dev/ttyN. Detaching leaves the container untouched; a second
// client on the same tty is refused by the shim (console.ErrBusy).
func cmdConsole(e *env, args []string) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	tty := fs.Int("tty", -1, "terminal to attach: 0 for /dev/console, N for /dev/ttyN (default tty1 when lxc.tty.max > 0, else the console)")
	fs.IntVar(tty, "t", -1, "short for --tty")
	escName := fs.String("escape", "a", "escape prefix: a letter, meaning Ctrl+letter")
	fs.StringVar(escName, "e", "a", "short for --escape")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: console NAME [--tty N] [--escape CHAR]")}
	}
	name := pos[0]
	ttySet := false
	fs.Visit(func(f *flag.Flag) { ttySet = ttySet || f.Name == "tty" || f.Name == "t" })
	why := ""
	switch {
	case ttySet && *tty < 0:
		return &exitError{code: 2, err: fmt.Errorf("--tty %d: want 0 (/dev/console) or a tty number", *tty)}
	case !ttySet:
		*tty, why = defaultTTY(e, name)
	}
	escape, err := console.ParseEscape(*escName)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--escape: %w", err)}
	}

	var rows, cols uint16
	if term.IsTerminal(int(os.Stdout.Fd())) {
		if r, c, err := console.Size(os.Stdout); err == nil {
			rows, cols = uint16(r), uint16(c)
		}
	}
	client := shimctl.NewClient(e.rundir, name)
	conn, err := client.Console(context.Background(), *tty, rows, cols)
	if err != nil {
		if errors.Is(err, shimctl.ErrNoShim) {
			return fmt.Errorf("container %s is not running (%w)", name, err)
		}
		if errors.Is(err, shimctl.ErrNotResponding) {
			return fmt.Errorf("%w; no console was attached (lxc-initd stop %s stops the container without it)", err, name)
		}
		return err
	}
	defer conn.Close()

	what := "console"
	if *tty > 0 {
		what = fmt.Sprintf("tty%d", *tty)
	}
	en := console.EscapeName(escape)
	fmt.Fprintf(e.stderr, "Connected to %s's %s%s. Type <%s q> to detach, <%s %s> to send %s.\n",
		name, what, why, en, en, en, en)
	resize := func(r, c int) error { return client.Resize(context.Background(), *tty, uint16(r), uint16(c)) }
	err = console.Attach(conn, os.Stdin, os.Stdout, escape, resize)
	if errors.Is(err, console.ErrRemoteClosed) {
		fmt.Fprintf(e.stderr, "\nlxc-initd console: %s: the shim closed the console (container stopped?)\n", name)
		return &exitError{code: 1}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "\nDetached from %s's %s.\n", name, what)
	return nil
}

// defaultTTY is the terminal console attaches to without --tty, and the
// reason the banner gives: tty1 when the config has ttys (a getty's place,
// what lxc-console picks), else /dev/console. A config that no longer
// loads (edited since the start) leaves the console.
func defaultTTY(e *env, name string) (int, string) {
	cfg, err := loadConfig(e, name)
	if err == nil && cfg.TTY.Max > 0 {
		return 1, fmt.Sprintf(" (lxc.tty.max = %d; --tty 0 for /dev/console)", cfg.TTY.Max)
	}
	return 0, " (no ttys: lxc.tty.max = 0)"
}
