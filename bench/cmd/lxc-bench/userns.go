package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
)

// usernsLines make a bench container unprivileged: root inside is host
// uid 100000, on the same root-owned rootfs through an idmapped mount
// (LXC 5 and lxc-shim both support idmap=container).
const usernsLines = "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\nlxc.rootfs.options = idmap=container\n"

// unprivileged measures start and stop of an unprivileged busybox
// container on both sides, and its supervisor's memory while it runs.
func (b *bench) unprivileged(ctx context.Context) error {
	// The container's root must reach its rootfs through the work
	// directory (MkdirTemp makes it 0700).
	if err := os.Chmod(b.work, 0o755); err != nil {
		return err
	}
	configure := func(s side, name string) error {
		f, err := os.OpenFile(filepath.Join(s.path(), name, "config"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(usernsLines)
		return errors.Join(err, f.Close())
	}
	memory := func(s side, pid int) {
		if mi, err := readMem(ppid(pid)); err == nil {
			b.res.get("userns-rss", s).add(float64(mi.RSS))
			b.res.get("userns-pss", s).add(float64(mi.PSS))
		} else {
			b.res.get("userns-rss", s).fail(err)
		}
	}
	return b.startStopCase(ctx, "u", "userns-", configure, memory)
}

// usernsMarkdown is the unprivileged case's table.
func (r *results) usernsMarkdown(p printer, o options) {
	p("### Unprivileged containers (`lxc.idmap`, idmapped rootfs)")
	p("")
	p("One busybox container per side with `%s` on the same root-owned rootfs through `lxc.rootfs.options = idmap=container`; %d measured rounds after one warm-up, sides alternating. Memory: the supervisor (lxc-shim, or `[lxc monitor]`) while the container runs, once per round.",
		"lxc.idmap = u 0 100000 65536` and `g 0 100000 65536", o.rounds)
	p("")
	p("| case | lxc-shim | LXC | ratio |")
	p("|---|---|---|---|")
	for _, x := range []struct{ title, measure string }{
		{"start, command to exit, init verified running (ms)", "userns-start"},
		{"stop, init halts at once (ms)", "userns-stop"},
		{"supervisor RSS (kB)", "userns-rss"},
		{"supervisor PSS (kB)", "userns-pss"},
	} {
		a, c := r.lookup(x.measure, "lxc-shim"), r.lookup(x.measure, "LXC")
		rs, _ := ratio(a, c)
		p("| %s | %s | %s | %s |", x.title, a.cell(1), c.cell(1), rs)
	}
	p("")
}
