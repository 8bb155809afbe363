package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// A feature case is the plain busybox config (writeConfig) with one
// feature of the earlier issues on top, where LXC can run it too: a
// seccomp profile, an overlay or a loop image as the root file system,
// host hooks. Each is timed as start, then a graceful stop whose init
// halts at once.
type feature struct {
	key, title string
	// setup makes the container's root file system and returns its
	// lxc.rootfs.path and the extra config lines.
	setup func(b *bench, s side, name string) (rootfs, extra string, err error)
}

var features = []feature{
	{"seccomp", "seccomp: `lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp`", func(b *bench, s side, name string) (string, string, error) {
		dir := filepath.Join(s.path(), name, "rootfs")
		if err := b.tmpl.instantiate(dir, haltNow); err != nil {
			return "", "", err
		}
		return "dir:" + dir, "lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp\n", nil
	}},
	{"overlay", "storage: overlay (`lxc.rootfs.path = overlay:LOWER:UPPER`)", func(b *bench, s side, name string) (string, string, error) {
		lower := filepath.Join(s.path(), name, "lower")
		upper := filepath.Join(s.path(), name, "upper")
		if err := b.tmpl.instantiate(lower, haltNow); err != nil {
			return "", "", err
		}
		if err := os.MkdirAll(upper, 0o755); err != nil {
			return "", "", err
		}
		return "overlay:" + lower + ":" + upper, "", nil
	}},
	{"loop", "storage: loop image, ext4 (`lxc.rootfs.path = loop:IMAGE`)", func(b *bench, s side, name string) (string, string, error) {
		tree := filepath.Join(s.path(), name, "tree")
		img := filepath.Join(s.path(), name, "rootfs.img")
		if err := b.tmpl.instantiate(tree, haltNow); err != nil {
			return "", "", err
		}
		if _, err := run(context.Background(), nil, "mkfs.ext4", "-q", "-F", "-d", tree, img, "32M"); err != nil {
			return "", "", fmt.Errorf("loop image for %s: %w", name, err)
		}
		return "loop:" + img, "", nil
	}},
	{"hooks", "hooks: pre-start, start-host and post-stop host scripts (`exit 0`)", func(b *bench, s side, name string) (string, string, error) {
		dir := filepath.Join(s.path(), name, "rootfs")
		if err := b.tmpl.instantiate(dir, haltNow); err != nil {
			return "", "", err
		}
		hook := filepath.Join(s.path(), name, "hook.sh")
		if err := os.WriteFile(hook, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			return "", "", err
		}
		extra := fmt.Sprintf("lxc.hook.pre-start = %s\nlxc.hook.start-host = %s\nlxc.hook.post-stop = %s\n", hook, hook, hook)
		return "dir:" + dir, extra, nil
	}},
}

// featureCases times start and a graceful stop of one container per
// feature and side, alternating the sides round by round.
func (b *bench) featureCases(ctx context.Context) error {
	for _, f := range features {
		for _, s := range b.sides {
			name := s.prefix() + "f" + f.key
			b.mu.Lock()
			b.containers = append(b.containers, made{s, name})
			b.mu.Unlock()
			rootfs, extra, err := f.setup(b, s, name)
			if err == nil {
				err = writeConfigExtra(s.path(), name, rootfs, false, extra)
			}
			if err != nil {
				b.res.get("f-start-"+f.key, s).fail(err)
			}
		}
		for r := 0; r <= b.o.rounds; r++ {
			for _, s := range b.order(r) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				st, sp := b.res.get("f-start-"+f.key, s), b.res.get("f-stop-"+f.key, s)
				if st.err != nil && !st.ok() {
					continue
				}
				name := s.prefix() + "f" + f.key
				d, pid, err := b.startOne(ctx, s, name)
				if err != nil {
					st.fail(err)
					s.forceStop(name)
					continue
				}
				if r > 0 {
					st.addDur(d)
				}
				time.Sleep(settle)
				d, err = b.timedStop(ctx, s, name, pid, s.stop)
				if err != nil {
					sp.fail(err)
					s.forceStop(name)
					continue
				}
				if r > 0 {
					sp.addDur(d)
				}
			}
		}
	}
	return nil
}
