package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestStageErrors: a failure in the stage comes back from Release as one
// error naming the step, the key, the value and FILE:LINE; the stage exits
// (status 1) and leaves nothing behind.
func TestStageErrors(t *testing.T) {
	testutil.RequireRoot(t)
	bins := testutil.Binaries(t)
	cases := []struct {
		name   string
		modify func(cfg *config.Config)
		want   string
	}{
		{"missing rootfs", func(cfg *config.Config) { cfg.Rootfs.Path = "/nonexistent/tbrootfs" },
			`rootfs lxc.rootfs.path "/nonexistent/tbrootfs" (CONFIG:2): no such file or directory`},
		{"missing init", func(cfg *config.Config) {
			cfg.Init.Cmd = []string{"/sbin/tbnoinit", "--x"}
			cfg.Init.Pos = config.Pos{File: cfg.File, Line: 5, Key: "lxc.init.cmd"}
		}, `exec lxc.init.cmd "/sbin/tbnoinit --x" (CONFIG:5): no such file or directory`},
		{"missing bind source", func(cfg *config.Config) {
			cfg.Mounts = []config.Mount{mount(10, "/nonexistent/tbsrc", "mnt/x", "none", "bind,create=dir", unix.MS_BIND, "")}
		}, `mount lxc.mount.entry "/nonexistent/tbsrc mnt/x none bind,create=dir" (/tb/config:10): source /nonexistent/tbsrc: no such file or directory`},
		{"unknown device", func(cfg *config.Config) {
			cfg.Mounts = []config.Mount{mount(11, "/dev/tbnodev0", "mnt", "ext4", "defaults", 0, "")}
		}, `mount lxc.mount.entry "/dev/tbnodev0 mnt ext4 defaults" (/tb/config:11): source /dev/tbnodev0: no such file or directory`},
		{"missing target", func(cfg *config.Config) {
			cfg.Mounts = []config.Mount{mount(12, "tmpfs", "tbnothere", "tmpfs", "defaults", 0, "")}
		}, `mount lxc.mount.entry "tmpfs tbnothere tmpfs defaults" (/tb/config:12): target /tbnothere: no such file or directory`},
		{"dangling symlink target", func(cfg *config.Config) {
			if err := os.Symlink("/tbnowhere", filepath.Join(cfg.Rootfs.Path, "mnt/dangle")); err != nil {
				t.Fatal(err)
			}
			cfg.Mounts = []config.Mount{mount(13, "tmpfs", "mnt/dangle", "tmpfs", "create=dir", 0, "")}
		}, `mount lxc.mount.entry "tmpfs mnt/dangle tmpfs create=dir" (/tb/config:13): target /mnt/dangle: not a directory`},
		{"sysctl without proc", func(cfg *config.Config) {
			cfg.Sysctls = []config.KeyValue{{Key: "net.ipv4.ip_forward", Value: "1", Pos: config.Pos{File: cfg.File, Line: 7, Key: "lxc.sysctl.net.ipv4.ip_forward"}}}
		}, `sysctl lxc.sysctl.net.ipv4.ip_forward "1" (CONFIG:7): open /proc/sys/net/ipv4/ip_forward: no such file or directory`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := testutil.Name("tb")
			rootfs := filepath.Join(t.TempDir(), "rootfs")
			testutil.TestinitRootfs(t, rootfs, bins)
			cfg := baseConfig(name, rootfs)
			tc.modify(cfg)
			b := newBox(t, cfg)
			b.rootfs = rootfs // the leak check looks here even when the config points elsewhere
			if err := b.spawn(); err != nil {
				t.Fatalf("spawn: %v", err)
			}
			err := b.st.Release()
			want := strings.ReplaceAll(tc.want, "CONFIG", cfg.File)
			var se *StageError
			if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), want) {
				t.Fatalf("release error = %v\nwant it to contain %s", err, want)
			}
			ws := b.reap()
			if !ws.Exited() || ws.ExitStatus() != 1 {
				t.Errorf("stage ended %v, want exit status 1", ws)
			}
			if _, err := os.Stat(filepath.Join(rootfs, "testinit", "boot.json")); err == nil {
				t.Errorf("the init ran despite the error")
			}
		})
	}
}

// TestOptionalMountsSkipped: optional entries whose source or target is
// missing are skipped and the container boots.
func TestOptionalMountsSkipped(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	cfg := baseConfig(name, rootfs)
	cfg.Mounts = []config.Mount{
		mount(10, "/nonexistent/tbsrc", "mnt/x", "none", "bind,optional,create=dir", unix.MS_BIND, ""),
		mount(11, "tmpfs", "tbnothere", "tmpfs", "optional", 0, ""),
		mount(12, "proc", "proc", "proc", "defaults", 0, ""),
	}
	b := newBox(t, cfg)
	b.start()
	r := b.bootReport()
	got := mountPoints(r.Mountinfo)
	for _, p := range []string{"/mnt/x", "/tbnothere"} {
		for _, g := range got {
			if g == p {
				t.Errorf("optional mount %s was made", p)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(rootfs, "mnt/x")); err == nil {
		t.Errorf("a skipped optional mount created its target")
	}
}

// TestRefusedConfigs: confinement the launcher cannot apply, and
// namespaces it cannot keep, are refused by Spawn before anything runs,
// with the key named (config.Refusals, which Load reports too, guards a
// Config that did not come from Load).
func TestRefusedConfigs(t *testing.T) {
	cases := []struct {
		name   string
		modify func(cfg *config.Config)
		want   string
	}{
		{"seccomp", func(c *config.Config) { c.Security.SeccompProfile = "/etc/lxc/tb.seccomp" }, "lxc.seccomp.profile"},
		// A model built without the reader's check: no gid map for root.
		{"idmap without root gid", func(c *config.Config) {
			c.Security.IDMap = []config.IDMap{{Kind: 'u', Container: 0, Host: 100000, Count: 65536}}
		}, "lxc.idmap"},
		{"unsupported", func(c *config.Config) { c.Security.Unsupported = []string{"lxc.hook.pre-start"} }, "lxc.hook.pre-start"},
		{"keep mnt", func(c *config.Config) {
			c.Namespace.Keep = []string{"mnt"}
			c.Namespace.Pos = config.Pos{File: c.File, Line: 9, Key: "lxc.namespace.keep"}
		}, ":9: lxc.namespace.keep: the mount namespace cannot be kept"},
		{"clone user", func(c *config.Config) {
			c.Namespace.Clone = []string{"mnt", "pid", "user"}
			c.Namespace.Pos = config.Pos{File: c.File, Line: 9, Key: "lxc.namespace.clone"}
		}, "lxc.namespace.clone: a user namespace needs lxc.idmap"},
		{"share", func(c *config.Config) { c.Namespace.Share = map[string]string{"net": "other"} }, "lxc.namespace.share.net"},
		{"no rootfs", func(c *config.Config) { c.Rootfs.Path = "" }, "rootfs lxc.rootfs.path"},
		{"cgroup-full", func(c *config.Config) { c.MountAuto.Cgroup, c.MountAuto.CgroupFull = "mixed", true }, "cgroup-full"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig("tbrefuse", t.TempDir())
			tc.modify(cfg)
			f := &countingForker{}
			_, err := Spawn(cfg, SpawnOptions{Fork: f})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("spawn error = %v, want it to contain %q", err, tc.want)
			}
			if f.n != 0 {
				t.Errorf("the stage was started despite the refusal")
			}
		})
	}
}

type countingForker struct{ n int }

func (f *countingForker) ForkExec(string, []string, *syscall.ProcAttr) (int, error) {
	f.n++
	return 0, errors.New("must not be called")
}

// TestStageExitsWhenShimDies: if the shim goes away before release (the
// control pipe's write end closes), the stage exits on its own.
func TestStageExitsWhenShimDies(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	b := newBox(t, baseConfig(name, rootfs))
	if err := b.spawn(); err != nil {
		t.Fatalf("spawn: %v", err)
	}
	b.st.ctl.Close() // what the kernel does when the shim dies
	ws := b.reap()
	if !ws.Exited() || ws.ExitStatus() != 1 {
		t.Errorf("stage ended %v, want exit status 1 on its own", ws)
	}
	b.st.report.Close()
	if _, err := os.Stat(filepath.Join(rootfs, "testinit", "boot.json")); err == nil {
		t.Errorf("the init ran without release")
	}
}

// TestAbort kills a stage that was never released.
func TestAbort(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	b := newBox(t, baseConfig(name, rootfs))
	if err := b.spawn(); err != nil {
		t.Fatalf("spawn: %v", err)
	}
	b.st.Abort()
	ws := b.reap()
	b.st.Abort() // a second Abort must not signal a reaped PID
	if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("aborted stage ended %v, want killed by SIGKILL", ws)
	}
	if err := b.st.Release(); err == nil {
		t.Errorf("release after abort succeeded")
	}
}

// TestSecurityLabelMustApply: a label the shim asks for is applied or the
// boot fails before the init runs: on this host, which has no AppArmor and
// no SELinux, the kernel takes neither, and the stage says so, naming the
// key, rather than exec the init unconfined.
func TestSecurityLabelMustApply(t *testing.T) {
	testutil.RequireRoot(t)
	bins := testutil.Binaries(t)
	for _, tc := range []struct {
		name   string
		modify func(*config.Config, *box)
		want   string
	}{
		{"apparmor", func(_ *config.Config, b *box) { b.apparmor = "lxc-container-default-cgns" }, `security label lxc.apparmor.profile "lxc-container-default-cgns"`},
		{"selinux", func(c *config.Config, _ *box) { c.Security.SELinuxContext = "system_u:system_r:tb_t:s0" }, `selinux keyring context lxc.selinux.context "system_u:system_r:tb_t:s0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := testutil.Name("tb")
			rootfs := filepath.Join(t.TempDir(), "rootfs")
			testutil.TestinitRootfs(t, rootfs, bins)
			cfg := baseConfig(name, rootfs)
			b := newBox(t, cfg)
			tc.modify(cfg, b)
			if err := b.spawn(); err != nil {
				t.Fatalf("spawn: %v", err)
			}
			err := b.st.Release()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("release error = %v, want it to contain %s", err, tc.want)
			}
			t.Logf("refused: %v", err)
			b.reap()
			if _, err := os.Stat(filepath.Join(rootfs, "testinit", "boot.json")); err == nil {
				t.Errorf("the init ran without its label")
			}
		})
	}
}
