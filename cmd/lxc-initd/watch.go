package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// shimEvent is one state a watched container is in.
type shimEvent struct {
	shimctl.Status
	// Initial: the state a container was in when the watch began, not a
	// change (a container without a shim then reads stopped).
	Initial bool
}

// shimWatcher follows the state changes of containers (the named ones, or
// every one) as their shims push them (shimctl.Client.Events). A shim
// that starts later is found through inotify on the run directory: a new
// RUNDIR/NAME, then its control.sock. Nothing is polled.
type shimWatcher struct {
	Events chan shimEvent

	rundir string
	only   map[string]bool // nil: every container
	in     *os.File        // the inotify descriptor
	mu     sync.Mutex
	dirs   map[int]string          // watch descriptor -> container name ("" for rundir)
	subs   map[string]func() error // container -> its subscription's closer
	closed bool
	done   chan struct{} // closed by Close: senders give up
}

func newShimWatcher(rundir string, names []string) (*shimWatcher, error) {
	w := &shimWatcher{Events: make(chan shimEvent, 64), rundir: rundir, dirs: map[int]string{}, subs: map[string]func() error{}, done: make(chan struct{})}
	if len(names) > 0 {
		w.only = map[string]bool{}
		for _, n := range names {
			w.only[n] = true
		}
	}
	// The run directory exists once a shim ever ran; watching it before
	// then means making it, as the first shim would (root only).
	if err := os.MkdirAll(rundir, 0o700); err != nil {
		return nil, fmt.Errorf("watch %s: %w", rundir, err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch %s: inotify: %w", rundir, err)
	}
	// Non-blocking through the runtime's poller, so that Close ends the
	// reader.
	w.in = os.NewFile(uintptr(fd), "inotify")
	if err := w.watch(rundir, ""); err != nil {
		w.in.Close()
		return nil, err
	}
	go w.read()
	// What runs now: every shim holding its name, and every state
	// directory (a shim whose socket is about to appear).
	known := map[string]bool{}
	for _, n := range shimctl.ShimNames(rundir) {
		known[n] = true
	}
	if ents, err := os.ReadDir(rundir); err == nil {
		for _, ent := range ents {
			if ent.IsDir() {
				known[ent.Name()] = true
			}
		}
	}
	for n := range w.only {
		known[n] = true
	}
	for n := range known {
		if !w.wanted(n) {
			continue
		}
		_ = w.watch(filepath.Join(rundir, n), n)
		if !w.subscribe(n, true) && w.only != nil {
			// Asked for by name and not running.
			w.Events <- shimEvent{Status: shimctl.Status{Name: n, State: shimctl.StateStopped}, Initial: true}
		}
	}
	return w, nil
}

func (w *shimWatcher) wanted(name string) bool {
	return config.ValidName(name) == nil && (w.only == nil || w.only[name])
}

// watch adds an inotify watch on dir: the run directory for new state
// directories, a state directory for its control socket.
func (w *shimWatcher) watch(dir, name string) error {
	mask := uint32(unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_ONLYDIR)
	wd, err := unix.InotifyAddWatch(int(w.in.Fd()), dir, mask)
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	w.mu.Lock()
	w.dirs[wd] = name
	w.mu.Unlock()
	return nil
}

// subscribe follows name's shim if one answers and it is not followed
// yet; it reports whether name is followed.
func (w *shimWatcher) subscribe(name string, initial bool) bool {
	w.mu.Lock()
	if w.closed || w.subs[name] != nil {
		w.mu.Unlock()
		return !w.closed
	}
	// Reserved while connecting, so that two events do not subscribe twice.
	w.subs[name] = func() error { return nil }
	w.mu.Unlock()
	ch, closer, err := shimctl.NewClient(w.rundir, name).Events(context.Background())
	w.mu.Lock()
	if err != nil || w.closed {
		delete(w.subs, name)
		w.mu.Unlock()
		if closer != nil {
			closer()
		}
		return false
	}
	w.subs[name] = closer
	w.mu.Unlock()
	go func() {
		first := initial
		for st := range ch {
			select {
			case w.Events <- shimEvent{Status: st, Initial: first}:
			case <-w.done:
			}
			first = false
		}
		w.mu.Lock()
		delete(w.subs, name)
		closed := w.closed
		w.mu.Unlock()
		// A new shim may have taken over while this stream ended.
		if !closed {
			w.subscribe(name, false)
		}
	}()
	return true
}

// read handles inotify events until Close.
func (w *shimWatcher) read() {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.in.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			raw := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			file := string(raw[:clen(raw)])
			w.mu.Lock()
			name, ok := w.dirs[int(ev.Wd)]
			w.mu.Unlock()
			switch {
			case !ok:
			case name == "" && ev.Mask&unix.IN_ISDIR != 0 && w.wanted(file):
				// A new state directory: its socket comes next (or came
				// already, before the watch).
				_ = w.watch(filepath.Join(w.rundir, file), file)
				w.subscribe(file, false)
			case name != "" && file == filepath.Base(shimctl.PathsFor(w.rundir, name).Socket):
				w.subscribe(name, false)
			}
		}
	}
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// Close ends every subscription and the watch.
func (w *shimWatcher) Close() error {
	w.mu.Lock()
	w.closed = true
	close(w.done)
	subs := w.subs
	w.subs = map[string]func() error{}
	w.mu.Unlock()
	var errs []error
	for _, c := range subs {
		errs = append(errs, c())
	}
	errs = append(errs, w.in.Close())
	return errors.Join(errs...)
}

// waitStates are the states wait takes; "stopped" also matches halted
// and failed (the container is not running any more).
var waitStates = []shimctl.State{shimctl.StateRunning, shimctl.StateStopped, shimctl.StateFrozen, shimctl.StateRebooting, shimctl.StateBooting, shimctl.StateStopping, shimctl.StateHalted, shimctl.StateFailed}

// parseWaitStates reads --state: one state or several joined by "|", in
// any case (lxc-wait writes RUNNING|FROZEN).
func parseWaitStates(s string) (map[shimctl.State]bool, error) {
	want := map[shimctl.State]bool{}
	for _, part := range strings.Split(strings.ToLower(s), "|") {
		st := shimctl.State(strings.TrimSpace(part))
		ok := false
		for _, w := range waitStates {
			ok = ok || w == st
		}
		if !ok {
			return nil, fmt.Errorf("unknown state %q (running, stopped, frozen, rebooting, booting, stopping, halted, failed)", part)
		}
		want[st] = true
	}
	return want, nil
}

// reached says whether state st is one of want.
func reached(want map[shimctl.State]bool, st shimctl.State) bool {
	return want[st] || (want[shimctl.StateStopped] && st.Final())
}

// cmdWait returns once the container is in one of the states (the shim
// pushes every change, so a passing state such as rebooting is seen), or
// exits 1 at the timeout.
func cmdWait(e *env, args []string) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	stateArg := fs.String("state", "", "the state(s) to wait for, e.g. running or RUNNING|FROZEN")
	secs := fs.Float64("t", -1, "give up after SECONDS (exit 1); default: wait for ever")
	pos, err := oneName(fs, args, 0, 0)
	if err != nil {
		return err
	}
	name := pos[0]
	want, err := parseWaitStates(*stateArg)
	if *stateArg == "" || err != nil {
		if err == nil {
			err = errors.New("--state is required")
		}
		return &exitError{code: 2, err: err}
	}
	if _, code, err := containerStatus(e, name); err != nil {
		return &exitError{code: code, err: err}
	}
	var deadline <-chan time.Time
	if *secs >= 0 {
		t := time.NewTimer(time.Duration(*secs * float64(time.Second)))
		defer t.Stop()
		deadline = t.C
	}
	w, err := newShimWatcher(e.rundir, []string{name})
	if err != nil {
		return err
	}
	defer w.Close()
	for {
		select {
		case ev := <-w.Events:
			if reached(want, ev.State) {
				return nil
			}
		case <-deadline:
			return &exitError{code: 1, err: fmt.Errorf("%s: not %s after %g seconds", name, *stateArg, *secs)}
		}
	}
}

// monitorLine is one line of monitor --json.
type monitorLine struct {
	Name  string        `json:"name"`
	State shimctl.State `json:"state"`
	Boot  int           `json:"boot,omitempty"`
	Pid   int           `json:"pid,omitempty"`
	Time  time.Time     `json:"time"`
}

// cmdMonitor prints one line per state change of the named containers (all
// of them without names) until interrupted. The shims push their changes;
// new shims are found through inotify on the run directory.
func cmdMonitor(e *env, args []string) error {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	names, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	for _, n := range names {
		if err := config.ValidName(n); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	w, err := newShimWatcher(e.rundir, names)
	if err != nil {
		return err
	}
	defer w.Close()
	enc := json.NewEncoder(e.stdout)
	for ev := range w.Events {
		if ev.Initial || ev.State == "" {
			continue // a state it was in before monitor started, or none yet
		}
		if *asJSON {
			_ = enc.Encode(monitorLine{Name: ev.Name, State: ev.State, Boot: ev.BootCount, Pid: ev.Pid, Time: time.Now().UTC()})
		} else {
			fmt.Fprintf(e.stdout, "'%s' changed state to [%s]\n", ev.Name, strings.ToUpper(string(ev.State)))
		}
	}
	return nil
}
