package container

import (
	"github.com/lxc-shim/lxc-shim/lsm"
)

// labels are the LSM labels the init gets: its AppArmor profile (worked
// out by the shim, lsm.Host.Prepare) or SELinux context, and the context
// of its session keyring. Each is opened by the thread that execs, on the
// host's /proc, and written right before its step (lsm.ExecLabel).
type labels struct {
	exec, keyring *lsm.ExecLabel
	// key and value name what asked for the exec label, keyKey and
	// keyValue for the keyring's, for errors.
	key, value       string
	keyKey, keyValue string
}

// openLabels opens the attr files for the labels the plan and config ask
// for. The config reader keeps SELinux contexts only on a host with
// SELinux, and the shim gives an AppArmor label only on a host with
// AppArmor: whatever is asked here must be applied or the boot fails.
func (s *stager) openLabels() (labels, error) {
	var l labels
	h := lsm.Host{}
	sec := s.cfg.Security
	var err error
	switch {
	case s.p.AppArmor != "":
		l.key, l.value = "lxc.apparmor.profile", s.p.AppArmor
		l.exec, err = h.OpenExecLabel("apparmor", s.p.AppArmor, true)
	case sec.SELinuxContext != "":
		l.key, l.value = "lxc.selinux.context", sec.SELinuxContext
		l.exec, err = h.OpenExecLabel("selinux", sec.SELinuxContext, true)
	}
	if err != nil {
		return l, s.fail("security label", "", l.key, l.value, err)
	}
	// LXC labels the session keyring with the keyring context, else the
	// process context.
	l.keyKey, l.keyValue = "lxc.selinux.context.keyring", sec.SELinuxKeyringContext
	if l.keyValue == "" {
		l.keyKey, l.keyValue = "lxc.selinux.context", sec.SELinuxContext
	}
	if l.keyValue != "" {
		if l.keyring, err = h.OpenExecLabel("selinux-keyring", l.keyValue, true); err != nil {
			l.close()
			return l, s.fail("selinux keyring context", "", l.keyKey, l.keyValue, err)
		}
	}
	return l, nil
}

func (l labels) setKeyring() error {
	if l.keyring == nil {
		return nil
	}
	return l.keyring.Set()
}

func (l labels) setExec() error {
	if l.exec == nil {
		return nil
	}
	return l.exec.Set()
}

func (l labels) close() {
	for _, x := range []*lsm.ExecLabel{l.exec, l.keyring} {
		if x != nil {
			x.Close()
		}
	}
}
