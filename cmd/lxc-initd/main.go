// Command lxc-initd is the command line that init systems and people call to
// start, stop and inspect lxc-shim containers (see shared/DESIGN.md, "Command
// line"). Each command lives in its own file; main only parses the global
// options and dispatches.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lxc-shim/lxc-shim/internal/version"

	"github.com/lxc-shim/lxc-shim/config"
)

// env is what every command receives: the global options and the streams.
type env struct {
	lxcpath []string
	rundir  string
	logdir  string
	stdout  io.Writer
	stderr  io.Writer
}

// exitError carries an exit code other than 1 (status uses LSB codes).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

type command struct {
	run   func(e *env, args []string) error
	usage string
}

func commands() map[string]command {
	return map[string]command{
		"start":         {cmdStart, "start NAME"},
		"stop":          {cmdStop, "stop NAME [-t SECONDS] [--kill]"},
		"restart":       {cmdRestart, "restart NAME [-t SECONDS]"},
		"reboot":        {cmdReboot, "reboot NAME"},
		"status":        {cmdStatus, "status NAME [--json]"},
		"list":          {cmdList, "list [--fancy] [--json]"},
		"console":       {cmdConsole, "console NAME [--tty N] [--escape CHAR]"},
		"attach":        {cmdAttach, "attach NAME [-- CMD ARGS...]"},
		"shutdown":      {cmdShutdown, "shutdown [-t SECONDS] [--deadline SECONDS]"},
		"autostart":     {cmdAutostart, "autostart [--group G] [--dry-run]"},
		"cleanup":       {cmdCleanup, "cleanup NAME"},
		"check":         {cmdCheck, "check NAME | --config FILE [--offline] [--json]"},
		"shift":         {cmdShift, "shift NAME --to-map"},
		"update-config": {cmdUpdateConfig, "update-config FILE [--in-place]"},
		"checkconfig":   {cmdCheckconfig, "checkconfig [--config FILE]"},
		"hwaddr":        {cmdHwaddr, "hwaddr IPV4 | --random"},
		"help":          {cmdHelp, "help [COMMAND]"},
		// Running containers, as LXC's own verbs (operate.go, watch.go).
		"freeze":   {cmdFreeze, "freeze NAME"},
		"unfreeze": {cmdUnfreeze, "unfreeze NAME"},
		"cgroup":   {cmdCgroup, "cgroup NAME KEY [VALUE] [--persist]"},
		"info":     {cmdInfo, "info NAME [--json]"},
		"wait":     {cmdWait, "wait NAME --state STATE [-t SECONDS]"},
		"device":   {cmdDevice, "device NAME add|del PATH [DEST]"},
		"monitor":  {cmdMonitor, "monitor [NAME...] [--json]"},
	}
}

// globalUsage is the synopsis of the options every command honours.
const globalUsage = "lxc-initd [-P LXCPATH] [--rundir DIR] [--logdir DIR]"

// globalHelp says what the global options and exit codes are; usage and
// "help" print it (lxc-initd(8) says the same at length).
const globalHelp = `global options (before the command):
  -P LXCPATH     colon-separated directories holding NAME/config or NAME.conf
                 (default /etc/lxc:/var/lib/lxc)
  --rundir DIR   state directory of the shims (default /run/lxc-shim)
  --logdir DIR   directory of the shims' logs (default /var/log/lxc-shim)
  --version      print which build this is and exit
exit status: 0 success, 1 failure (with its cause on stderr), 2 usage error;
  status: 0 running, 1 dead with state left behind, 3 stopped, 4 no such container.
"lxc-initd COMMAND --help" shows one command's usage; see lxc-initd(8).
`

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s COMMAND [ARGS]\n", globalUsage)
	fmt.Fprintln(w, "commands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s\n", cmds[n].usage)
	}
	fmt.Fprint(w, globalHelp)
}

// cmdHelp prints the usage (or one command's, as "COMMAND --help" does) on
// stdout: help is an answer, not an error, so "lxc-initd help | less" works.
func cmdHelp(e *env, args []string) error {
	pos, _, err := parseArgs(flag.NewFlagSet("help", flag.ContinueOnError), args)
	switch {
	case errors.Is(err, flag.ErrHelp) || err == nil && len(pos) == 0:
		usage(e.stdout)
		return nil
	case err == nil && len(pos) == 1:
		if c, ok := commands()[pos[0]]; ok {
			// A command with a long help prints it and returns nil;
			// the others answer ErrHelp, which means their usage line.
			if err := c.run(e, []string{"--help"}); !errors.Is(err, flag.ErrHelp) {
				return err
			}
			fmt.Fprintf(e.stdout, "usage: %s %s\n", globalUsage, c.usage)
			return nil
		}
		return &exitError{code: 2, err: fmt.Errorf("unknown command %q", pos[0])}
	}
	return &exitError{code: 2, err: errors.New("usage: help [COMMAND]")}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("lxc-initd", flag.ContinueOnError)
	// Errors and help are printed below, each on its own stream.
	fs.SetOutput(io.Discard)
	lxcpath := fs.String("P", config.DefaultLXCPath, "colon-separated list of directories holding NAME/config")
	fs.StringVar(&e.rundir, "rundir", config.DefaultRunDir, "state directory of the shims")
	fs.StringVar(&e.logdir, "logdir", config.DefaultLogDir, "directory of the shims' logs")
	showVersion := fs.Bool("version", false, "print which build this is")
	if err := fs.Parse(args); err != nil {
		// -h/--help asks for the usage: an answer on stdout, exit 0.
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "lxc-initd: %v\n", err)
		usage(stderr)
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "lxc-initd", version.String())
		return 0
	}
	e.lxcpath = config.SplitLXCPath(*lxcpath)
	// The shim runs in /, so relative directories would name other
	// places there: pass it (and use) absolute ones.
	for i := range e.lxcpath {
		e.lxcpath[i] = absPath(e.lxcpath[i])
	}
	e.rundir, e.logdir = absPath(e.rundir), absPath(e.logdir)
	rest := fs.Args()
	if len(rest) == 0 {
		usage(stderr)
		return 2
	}
	cmd, ok := commands()[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "lxc-initd: unknown command %q\n", rest[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(e, rest[1:]); err != nil {
		// -h/--help: whatever the command wrapped it in, answer with its
		// usage line, not with the flag package's "help requested".
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: %s %s\n", globalUsage, cmd.usage)
			return 0
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintf(stderr, "lxc-initd %s: %v\n", rest[0], ee.err)
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "lxc-initd %s: %v\n", rest[0], err)
		return 1
	}
	return 0
}

// absPath is p made absolute against the working directory (p itself if
// that cannot be read).
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// parseArgs parses flags that may come before or after positional arguments
// ("stop NAME -t 5" as well as "stop -t 5 NAME"). Everything after the first
// "--" is returned untouched as tail (attach's command).
//
// fs is named for its command: when that command's usage starts with NAME,
// the first positional argument is a container name and parseArgs refuses
// it unless config.ValidName accepts it. Every command parses its
// arguments here, so every one checks a NAME the same way, before it
// touches anything ("status ../run/x" must not read another directory).
func parseArgs(fs *flag.FlagSet, args []string) (pos, tail []string, err error) {
	pos, tail, err = parseFlags(fs, args)
	if err == nil && len(pos) > 0 && takesName(fs.Name()) {
		err = config.ValidName(pos[0])
	}
	return pos, tail, err
}

// takesName reports whether command's first positional argument is NAME.
func takesName(command string) bool {
	c, ok := commands()[command]
	return ok && strings.HasPrefix(c.usage, command+" NAME")
}

func parseFlags(fs *flag.FlagSet, args []string) (pos, tail []string, err error) {
	fs.SetOutput(io.Discard)
	head := args
	for i, a := range args {
		if a == "--" {
			head, tail = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(head); err != nil {
			return nil, nil, err
		}
		head = fs.Args()
		if len(head) == 0 {
			return pos, tail, nil
		}
		pos = append(pos, head[0])
		head = head[1:]
	}
}
