package supervise

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/lxc-shim/lxc-shim/lsm"
)

// securityLabels works out the init's AppArmor label and, for
// lxc.apparmor.profile = generated, generates and loads its profile
// (lsm.Host.Prepare); the run's teardown unloads it. On a host without
// AppArmor nothing is done: the config reader warned about the keys.
func (bt *booting) securityLabels() error {
	cfg := bt.cfg
	// The profile's name holds the lxc path, as LXC's does.
	lxcpath := filepath.Dir(filepath.Dir(cfg.File))
	h := lsm.Host{Run: bt.b.runHost}
	p, err := h.Prepare(cfg, lxcpath, bt.b.Paths.Dir)
	if err != nil {
		return fmt.Errorf("apparmor %s: %w", cfg.Name, err)
	}
	bt.apparmor = p.AppArmor
	bt.r.unloadLSM = p.Unload
	if p.AppArmor != "" {
		bt.b.Log.Info("apparmor profile", "label", p.AppArmor)
	}
	return nil
}

// runHost runs a host command (apparmor_parser) to its end through the
// shim's reaper, the only code that waits for children, and returns its
// output (stdout and stderr).
func (b *ContainerBooter) runHost(argv []string) ([]byte, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	attr := &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Files: []uintptr{null.Fd(), w.Fd(), w.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}
	pid, err := b.Reaper.ForkExec(path, argv, attr)
	null.Close()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	var out bytes.Buffer
	_, _ = io.Copy(&out, io.LimitReader(r, 1<<20))
	r.Close()
	ws := <-b.Reaper.Wait(pid)
	switch {
	case ws.Signaled():
		return out.Bytes(), fmt.Errorf("%s: killed by %v", path, ws.Signal())
	case !ws.Exited() || ws.ExitStatus() != 0:
		return out.Bytes(), fmt.Errorf("%s: exit status %d", path, ws.ExitStatus())
	}
	return out.Bytes(), nil
}
