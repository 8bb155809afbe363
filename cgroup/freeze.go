package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Freeze stops every process of the container's cgroup and its descendants
// and waits, for a bounded time, until the kernel reports the cgroup frozen.
// It uses the v1 freezer where one is mounted (v1 and hybrid hosts), and
// cgroup.freeze otherwise.
func (g *Cgroup) Freeze() error { return g.setFrozen(true, freezeTimeout) }

// Thaw lets the processes of a frozen cgroup run again, waiting until the
// kernel reports it thawed.
func (g *Cgroup) Thaw() error { return g.setFrozen(false, freezeTimeout) }

func (g *Cgroup) setFrozen(frozen bool, timeout time.Duration) error {
	h, err := g.freezer()
	if err != nil {
		return err
	}
	op := "thaw"
	if frozen {
		op = "freeze"
	}
	var err2 error
	if h.v2 {
		err2 = freezeV2(h.dir, frozen, timeout)
	} else {
		err2 = freezeV1(h.dir, frozen, timeout)
	}
	if err2 != nil {
		return fmt.Errorf("cgroup %s: %s: %w", g.name, op, err2)
	}
	return nil
}

// freezer is the hierarchy whose freezer Freeze uses.
func (g *Cgroup) freezer() (*hier, error) {
	if !g.v2Freezer {
		if i := g.hostOf("freezer", false); i >= 0 {
			return &g.hiers[i], nil
		}
	}
	if i := g.v2Index(); i >= 0 {
		return &g.hiers[i], nil
	}
	return nil, fmt.Errorf("cgroup %s: no freezer: neither a v1 freezer hierarchy nor cgroup2 is mounted", g.name)
}

// freezeV1 writes FROZEN or THAWED to freezer.state and waits for the state
// to read back so (a freezing cgroup reads FREEZING until every task
// stopped). The write is repeated while waiting, which makes the kernel try
// again on tasks it could not freeze yet.
func freezeV1(dir string, frozen bool, timeout time.Duration) error {
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	file := filepath.Join(dir, "freezer.state")
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		if err := writeFile(file, want); err != nil {
			return fmt.Errorf("write %s to %s: %w", want, file, err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		state := strings.TrimSpace(string(b))
		if state == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still %s after %v (a process in uninterruptible sleep?)", file, state, timeout)
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// freezeV2 writes cgroup.freeze and waits for "frozen" in cgroup.events to
// match.
func freezeV2(dir string, frozen bool, timeout time.Duration) error {
	want := "0"
	if frozen {
		want = "1"
	}
	file := filepath.Join(dir, "cgroup.freeze")
	if err := writeFile(file, want); err != nil {
		return fmt.Errorf("write %s to %s: %w", want, file, err)
	}
	events := filepath.Join(dir, "cgroup.events")
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		v, err := readKey(events, "frozen")
		if err != nil {
			return err
		}
		if v == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: frozen is still %s after %v", events, v, timeout)
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// readKey reads the value of key in a flat-keyed cgroup file ("key value"
// lines).
func readKey(file, key string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("read %s: no %q", file, key)
}

// Kill kills every process in the container's cgroup and the cgroups below
// it, in every hierarchy, and waits (at most killTimeout) until none is
// left. Where cgroup2 offers cgroup.kill the kernel kills the whole subtree
// atomically. Otherwise, and as a sweep for anything only a v1 hierarchy
// still lists, each round freezes the cgroup so nothing can fork, sends
// SIGKILL to every listed process, and thaws so the signals are delivered;
// rounds repeat until the cgroup is empty. A process in uninterruptible
// sleep (D state) dies only when it wakes, which can make Kill time out.
// A directory that is not provably the container's (see NotOursError) is
// refused before anything is killed.
func (g *Cgroup) Kill() error {
	// Never a cgroup someone else made at this path: lxc.cgroup.dir
	// naming a service, or a process put in lxc-shim/NAME by hand.
	if err := g.refuseForeign(); err != nil {
		return err
	}
	if i := g.v2Index(); i >= 0 && !g.noKillFile {
		file := filepath.Join(g.hiers[i].dir, "cgroup.kill")
		// cgroup.kill is missing before Linux 5.14, and the directory may
		// be missing in a half-made cgroup: both fall back to the rounds.
		err := writeFile(file, "1")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cgroup %s: write 1 to %s: %w", g.name, file, err)
		}
		// The kernel has killed every process of the subtree, and kills
		// what they fork meanwhile: what is listed now is only dying.
		// Waiting for that in short steps is enough in all but odd
		// cases (a process only a v1 hierarchy lists), which the rounds
		// below still sweep; a freeze and thaw and a 5 ms sleep per
		// round used to take about 10 ms of every stop --kill.
		if err == nil && g.waitEmpty(killSettle) {
			return nil
		}
	}
	deadline := time.Now().Add(killTimeout)
	delay := 5 * time.Millisecond
	for {
		pids, err := g.pids()
		if err != nil {
			return fmt.Errorf("kill: %w", err)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: processes %v still alive %v after SIGKILL (in uninterruptible sleep?)", g.name, pids, killTimeout)
		}
		if err := g.killRound(); err != nil {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// waitEmpty polls, in steps growing from 100 µs, until no process is
// left in the cgroup or within reports whether it emptied.
func (g *Cgroup) waitEmpty(within time.Duration) bool {
	deadline := time.Now().Add(within)
	delay := 100 * time.Microsecond
	for {
		pids, err := g.pids()
		if err == nil && len(pids) == 0 {
			return true
		}
		if err != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay)
		delay = min(2*delay, 5*time.Millisecond)
	}
}

// killRound is one freeze / SIGKILL everything listed / thaw.
func (g *Cgroup) killRound() error {
	// Without a freezer (or when it does not settle) the kill still goes
	// ahead; the next round catches what forked meanwhile.
	_, ferr := g.freezer()
	if ferr == nil {
		_ = g.setFrozen(true, killFreezeTimeout)
	}
	pids, err := g.pids()
	if err == nil {
		for _, pid := range pids {
			if kerr := syscall.Kill(pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
				err = fmt.Errorf("cgroup %s: kill %d: %w", g.name, pid, kerr)
			}
		}
	}
	if ferr == nil {
		// Thaw even when the freeze timed out: a half-frozen cgroup
		// would keep the killed tasks from dying. A thaw that does not
		// read back in time is not an error of the kill: Kill goes on
		// with rounds until the cgroup is empty (each round thaws again)
		// and fails only if processes outlive its deadline.
		_ = g.setFrozen(false, freezeTimeout)
	}
	return err
}
