package main

import (
	"fmt"
	"time"
)

// templateMarkdown is the report's table of the cases on LXC's busybox
// template config, and the memory of many such containers.
func (r *results) templateMarkdown(p printer, o options) {
	p("### LXC's busybox template config (what `lxc-create -t busybox` writes)")
	p("")
	p("Times in ms: median (min–max, n) of %d measured rounds after one warm-up round, the two sides alternating which goes first. Ratio: lxc-shim median / LXC median.", o.rounds)
	p("")
	p("| case | lxc-shim | LXC | ratio | target | verdict |")
	p("|---|---|---|---|---|---|")
	row := func(title, measure string) {
		a, b := r.lookup(measure, "lxc-shim"), r.lookup(measure, "LXC")
		rs, rv := ratio(a, b)
		v := "–"
		if rv > 0 {
			v = verdict(rv <= 1.0)
		}
		p("| %s | %s | %s | %s | ≤ 1.0 | %s |", title, a.cell(1), b.cell(1), rs, v)
	}
	row("start (`lxc-initd start` / `lxc-start -d`), command to exit, init verified running", "tpl-start")
	row("stop --kill (`lxc-initd stop --kill` / `lxc-stop -k`), command to exit, supervisor and cgroup gone after", "tpl-kill")
	row("start+kill cycle: start, then stop --kill at once", "tpl-cycle")
	row("graceful stop, init halts at once on the halt signal: the supervisor's overhead (`lxc-initd stop` / `lxc-stop`)", "tpl-stop")
	row("reboot turnaround: old init's death to new init exec'd", "tpl-reboot")
	p("")
	ms, ml := r.mems["tpl/lxc-shim"], r.mems["tpl/LXC"]
	if ms == nil && ml == nil {
		return
	}
	if ms == nil {
		ms = &memSeries{}
	}
	if ml == nil {
		ml = &memSeries{}
	}
	p("Memory with %d template containers running per side, one sample per supervisor, kB: median (min–max, n); from /proc/PID/smaps_rollup (private = Private_Clean + Private_Dirty).", o.many)
	p("")
	p("| per supervisor | lxc-shim | LXC `[lxc monitor]` | ratio | target | verdict |")
	p("|---|---|---|---|---|---|")
	mrow := func(title string, a, b *series, target string, limit float64) {
		rs, _ := ratio(a, b)
		v := "–"
		if limit > 0 && a.ok() {
			v = verdict(a.median() <= limit)
		}
		p("| %s | %s | %s | %s | %s | %s |", title, a.cell(0), b.cell(0), rs, target, v)
	}
	mrow("private (clean+dirty) kB", &ms.priv, &ml.priv, "≤ 1024 kB", 1024)
	mrow("PSS kB", &ms.pss, &ml.pss, "≤ 1229 kB (1.2 MB)", 1229)
	mrow("RSS kB", &ms.rss, &ml.rss, "–", 0)
	mrow("RssAnon kB", &ms.anon, &ml.anon, "–", 0)
	mrow("threads", &ms.threads, &ml.threads, "–", 0)
	failed := func(what string, shim, lxc *memSeries) {
		for _, x := range []struct {
			label string
			m     *memSeries
		}{{"lxc-shim", shim}, {"LXC `[lxc monitor]`", lxc}} {
			if x.m.err != nil {
				p("")
				p("%s %s: failed: %s", x.label, what, shorten(x.m.err.Error(), 200))
			}
		}
	}
	failed("memory", ms, ml)
	largestMappings(p, "lxc-shim", ms)
	largestMappings(p, "LXC `[lxc monitor]`", ml)
	if ls, ll := r.mems["tpl-late/lxc-shim"], r.mems["tpl-late/LXC"]; ls != nil && ll != nil {
		p("")
		p("The same supervisors %s later (Go's runtime forces a GC every 2 minutes; each one leaves a little more of its own memory resident, so the 1 s figure above is a shim's lowest), and what they did over that window with nothing asked of either side (CPU time in 10 ms ticks; wake-ups are voluntary+nonvoluntary context switches over every thread).", o.late)
		p("")
		p("| per supervisor | lxc-shim | LXC `[lxc monitor]` | ratio | target | verdict |")
		p("|---|---|---|---|---|---|")
		mrow("private (clean+dirty) kB", &ls.priv, &ll.priv, "≤ 1024 kB", 1024)
		mrow("PSS kB", &ls.pss, &ll.pss, "≤ 1229 kB (1.2 MB)", 1229)
		mrow("threads", &ls.threads, &ll.threads, "–", 0)
		mrow(fmt.Sprintf("CPU ms over %s", ls.idle.Round(time.Second)), &ls.cpuMs, &ll.cpuMs, "–", 0)
		mrow(fmt.Sprintf("wake-ups over %s", ls.idle.Round(time.Second)), &ls.switches, &ll.switches, "–", 0)
		failed("late memory", ls, ll)
	}
}

// featuresMarkdown is the report's table of the seccomp, storage and hook
// cases.
func (r *results) featuresMarkdown(p printer, o options) {
	p("### Seccomp, storage and hooks (issues 13, 14, 16)")
	p("")
	p("The plain busybox config of cases 1-3 with one feature added, the same lines on both sides. Times in ms: median (min–max, n) of %d measured rounds after one warm-up round, the sides alternating. Unprivileged containers have their own table below.", o.rounds)
	p("")
	p("| feature | case | lxc-shim | LXC | ratio |")
	p("|---|---|---|---|---|")
	for _, f := range features {
		for _, c := range []struct{ title, measure string }{
			{"start", "f-start-" + f.key},
			{"graceful stop, init halts at once", "f-stop-" + f.key},
		} {
			a, b := r.lookup(c.measure, "lxc-shim"), r.lookup(c.measure, "LXC")
			rs, _ := ratio(a, b)
			p("| %s | %s | %s | %s | %s |", f.title, c.title, a.cell(1), b.cell(1), rs)
		}
	}
}

const templateMethodText = `- **Busybox template config.** ` + "`lxc-create -t busybox`" + ` is run once into a scratch lxcpath; its config, without the lines of /etc/lxc/default.conf (` + "`lxc.net.0.type = veth`" + ` on lxcbr0, which the benchmark does not create, and ` + "`lxc.apparmor.*`" + `, which this kernel cannot apply), ` + "`lxc.rootfs.path` and `lxc.uts.name`" + `, is what both sides get, after ` + "`lxc.uts.name`, `lxc.rootfs.path = dir:ROOTFS` and `lxc.net.0.type = empty`" + `: the template's ` + "`lxc.signal.halt = SIGUSR1`, `lxc.signal.reboot = SIGTERM`, `lxc.autodev = 1`, `lxc.tty.max = 5`, `lxc.pty.max = 1`, `lxc.cap.drop = sys_module mac_admin mac_override sys_time`, `lxc.mount.auto = cgroup:mixed proc:mixed sys:ro`" + ` and its 7 ` + "`lxc.mount.entry`" + ` lines (/dev/shm, /dev/mqueue, read-only binds of /lib, /usr/lib, /lib64, /usr/lib64, /sys/kernel/security). The root file system is the benchmark's own (its inittab, not the template's getty and udhcpc). Per round and side: start; stop --kill 300 ms later; start then stop --kill at once (cycle, one wall time); start, then a graceful stop 300 ms later (the init halts at once); the reboot turnaround of a second container (as case 2). Each stop is checked as in case 3. Memory: %d such containers started one after the other per side, read 1 s after the last start and again later (` + "`-late-memory`" + `, 130 s by default), past the Go runtime's forced GC, with CPU time and context switches over that window.
- **Seccomp, storage, hooks.** One container per feature and side on the plain config of cases 1-3 plus: ` + "`lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp`" + ` (LXC's common profile, a deny list); ` + "`lxc.rootfs.path = overlay:LOWER:UPPER`" + ` (a lower copy of the root file system, an empty upper); ` + "`lxc.rootfs.path = loop:IMAGE`" + ` (a 32 MB ext4 image made with ` + "`mkfs.ext4 -d`" + `, attached to a loop device at every start); ` + "`lxc.hook.pre-start`, `lxc.hook.start-host` and `lxc.hook.post-stop`" + ` running one host script that exits 0. Per round and side: start, then a graceful stop 300 ms later, as case 3.`
