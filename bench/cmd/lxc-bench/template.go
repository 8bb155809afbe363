package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The "template" cases run the config people really use: what
// `lxc-create -t busybox` writes (5 ttys, `cgroup:mixed proc:mixed sys:ro`,
// 7 mount entries, autodev, dropped capabilities), unchanged but for the
// root file system, the name and the lines /etc/lxc/default.conf adds (a
// veth on lxcbr0, which lxc-net would have to make on the host, and an
// AppArmor profile this kernel cannot load): both sides get
// `lxc.net.0.type = empty` instead, as in every other case.

// templateConfig runs LXC's busybox template once into a scratch lxcpath
// and returns the config lines it wrote, without those of default.conf and
// without lxc.rootfs.path and lxc.uts.name.
func templateConfig(ctx context.Context, work string) ([]string, error) {
	dir := filepath.Join(work, "template-probe")
	defer os.RemoveAll(dir)
	if _, err := run(ctx, nil, "lxc-create", "-P", dir, "-n", "probe", "-t", "busybox"); err != nil {
		return nil, fmt.Errorf("LXC's busybox template: %w", err)
	}
	skip := map[string]bool{"lxc.rootfs.path": true, "lxc.uts.name": true}
	for _, l := range configLines("/etc/lxc/default.conf") {
		k, _, _ := strings.Cut(l, "=")
		skip[strings.TrimSpace(k)] = true
	}
	var out []string
	for _, l := range configLines(filepath.Join(dir, "probe", "config")) {
		k, _, _ := strings.Cut(l, "=")
		if !skip[strings.TrimSpace(k)] {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("LXC's busybox template wrote no config of its own in %s", dir)
	}
	return out, nil
}

// configLines returns the key = value lines of an LXC config (no comments,
// no blank lines); a missing file has none.
func configLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// newTemplateContainer makes a container whose config is LXC's busybox
// template's.
func (b *bench) newTemplateContainer(s side, name string, kind initKind) error {
	rootfs, err := b.newRootfs(s, name, kind)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\nlxc.net.0.type = empty\n%s\n",
		name, rootfs, strings.Join(b.tplLines, "\n"))
	return writeConfigText(s.path(), name, text)
}

// templateCases measures, on the template config: start, stop --kill, a
// start+kill cycle, a graceful stop whose init halts at once (the
// supervisors' own overhead), and the reboot turnaround; then the memory
// of many running containers.
func (b *bench) templateCases(ctx context.Context) error {
	lines, err := templateConfig(ctx, b.work)
	if err != nil {
		return err
	}
	b.tplLines = lines
	for _, s := range b.sides {
		if err := b.newTemplateContainer(s, s.prefix()+"tpl", haltNow); err != nil {
			return err
		}
		if err := b.newTemplateContainer(s, s.prefix()+"tplrb", plainShutdown); err != nil {
			return err
		}
		if _, _, err := b.startOne(ctx, s, s.prefix()+"tplrb"); err != nil {
			b.res.get("tpl-reboot", s).fail(err)
			s.forceStop(s.prefix() + "tplrb")
		}
	}
	for r := 0; r <= b.o.rounds; r++ {
		for _, s := range b.order(r) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.templateRound(ctx, s, r > 0)
		}
	}
	for _, s := range b.sides {
		s.forceStop(s.prefix() + "tplrb")
	}
	return b.templateMemory(ctx)
}

// templateRound is one round of the template's timed cases on one side;
// warm-up rounds are not recorded.
func (b *bench) templateRound(ctx context.Context, s side, record bool) {
	name := s.prefix() + "tpl"
	add := func(measure string, d time.Duration) {
		if record {
			b.res.get(measure, s).addDur(d)
		}
	}
	// start, then stop --kill once busybox has settled.
	if st := b.res.get("tpl-start", s); st.err == nil || st.ok() {
		d, pid, err := b.startOne(ctx, s, name)
		if err != nil {
			st.fail(err)
			s.forceStop(name)
		} else {
			add("tpl-start", d)
			time.Sleep(settle)
			if d, err := b.timedStop(ctx, s, name, pid, s.kill); err != nil {
				b.res.get("tpl-kill", s).fail(err)
				s.forceStop(name)
			} else {
				add("tpl-kill", d)
			}
		}
	}
	// start+kill: the kill right after the start returned.
	if cy := b.res.get("tpl-cycle", s); cy.err == nil || cy.ok() {
		t0 := time.Now()
		_, pid, err := b.startOne(ctx, s, name)
		if err == nil {
			_, err = b.timedStop(ctx, s, name, pid, s.kill)
			if err == nil {
				add("tpl-cycle", time.Since(t0))
			}
		}
		if err != nil {
			cy.fail(err)
			s.forceStop(name)
		}
	}
	// graceful stop: the init halts at once on the halt signal.
	if gs := b.res.get("tpl-stop", s); gs.err == nil || gs.ok() {
		_, pid, err := b.startOne(ctx, s, name)
		if err == nil {
			time.Sleep(settle)
			var d time.Duration
			if d, err = b.timedStop(ctx, s, name, pid, s.stop); err == nil {
				add("tpl-stop", d)
			}
		}
		if err != nil {
			gs.fail(err)
			s.forceStop(name)
		}
	}
	// reboot turnaround of the container started before the rounds.
	if rb := b.res.get("tpl-reboot", s); rb.err == nil {
		time.Sleep(settle)
		d, err := rebootOnce(ctx, s, s.prefix()+"tplrb")
		if err != nil {
			rb.fail(err)
			s.forceStop(s.prefix() + "tplrb")
		} else {
			add("tpl-reboot", d)
		}
	}
}

// timedStop runs how (a side's stop or kill) on a container whose init is
// pid and times it; the init must be gone when it returns, and the
// supervisor and the cgroup right after.
func (b *bench) timedStop(ctx context.Context, s side, name string, pid int, how func(context.Context, string) error) (time.Duration, error) {
	sup, err := openPidfd(ppid(pid))
	if err != nil {
		return 0, err
	}
	defer sup.close()
	initfd, err := openPidfd(pid)
	if err != nil {
		return 0, err
	}
	defer initfd.close()
	t0 := time.Now()
	err = how(ctx, name)
	d := time.Since(t0)
	if err == nil && !initfd.exited() {
		err = fmt.Errorf("stop %s returned while init %d still runs", name, pid)
	}
	if err == nil {
		err = waitGone(s, name, sup, 10*time.Second)
	}
	return d, err
}

// templateMemory starts o.many template containers per side, reads each
// supervisor's memory after 1 s and, with -late-memory, again at the end
// of that window with its CPU time and wake-ups over it, and kills them.
func (b *bench) templateMemory(ctx context.Context) error {
	for _, s := range b.sides {
		var names []string
		var pids []int
		m := b.res.memOf("tpl", s)
		for i := 1; i <= b.o.many; i++ {
			n := fmt.Sprintf("%stm%02d", s.prefix(), i)
			if err := b.newTemplateContainer(s, n, haltNow); err != nil {
				return err
			}
			names = append(names, n)
			_, pid, err := b.startOne(ctx, s, n)
			if err != nil {
				m.err = err
				break
			}
			pids = append(pids, pid)
		}
		if m.err == nil {
			time.Sleep(time.Second)
			b.readMemoryInto(m, pids, 0)
		}
		if m.err == nil && b.o.late > time.Second {
			// Again after Go's forced GC (every 2 minutes) has run in
			// the shims: the 1 s figure is a shim's lowest. The window
			// between the two samples is also the long idle one.
			b.idleThenMemory(b.res.memOf("tpl-late", s), pids, b.o.late)
		}
		b.forceAll(s, names)
		for _, n := range names {
			if err := waitGone(s, n, nil, 10*time.Second); err != nil && m.err == nil {
				m.err = err
			}
		}
	}
	return nil
}
