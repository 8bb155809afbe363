package config

import (
	"os"
	"strings"
	"syscall"
)

// Options adapt Load to a host. The zero value probes the running host.
type Options struct {
	// AppArmor reports whether the host enforces AppArmor (default: reads
	// /sys/module/apparmor/parameters/enabled).
	AppArmor func() bool
	// SELinux reports whether the host has SELinux (default: /sys/fs/selinux
	// exists).
	SELinux func() bool
	// Getenv looks up host environment variables for lxc.environment lines
	// that name a variable without a value (default: os.LookupEnv).
	Getenv func(string) (string, bool)
	// Machine is the architecture seccomp profiles are compiled for, as
	// uname -m names it (default: this host's).
	Machine string
	// SkipRootfsOwners leaves out the check that the rootfs's owners fit
	// lxc.idmap (for `lxc-initd shift`, which makes them fit).
	SkipRootfsOwners bool
}

func (o Options) withDefaults() Options {
	if o.AppArmor == nil {
		o.AppArmor = hostAppArmor
	}
	if o.SELinux == nil {
		o.SELinux = hostSELinux
	}
	if o.Getenv == nil {
		o.Getenv = os.LookupEnv
	}
	return o
}

func hostAppArmor() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.TrimSpace(string(b)) == "Y"
}

func hostSELinux() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// Load reads the config file at path for container name: follows
// lxc.include, maps legacy keys, validates every value and fills LXC's
// defaults. On any error it returns a *Errors listing every problem of the
// file (and its warnings).
func Load(path, name string) (*Config, error) {
	return LoadWith(path, name, Options{})
}

// LoadWith is Load on a host described by opts.
func LoadWith(path, name string, opts Options) (*Config, error) {
	opts = opts.withDefaults()
	d := &diags{}
	r := &reader{d: d}
	r.readFile(path, Pos{})
	b := newBuilder(name, path, opts, d)
	for _, e := range r.entries {
		b.apply(e)
	}
	b.finish()
	if r.firstLegacy.File != "" {
		b.cfg.HasLegacyKeys = true
		w := Diagnostic{Pos: r.firstLegacy, Message: "legacy (LXC 1.x/2.x) keys in use; `lxc-initd update-config " + r.firstLegacy.File + "` rewrites them to LXC 3+ keys"}
		d.warns = append([]Diagnostic{w}, d.warns...)
	}
	b.cfg.Warnings = d.warns
	if len(d.errs) > 0 {
		return nil, &Errors{List: d.errs, Warnings: d.warns}
	}
	return b.cfg, nil
}

// defaults fills what LXC assumes when a key is absent.
func defaults(c *Config) {
	c.Init.Cmd = []string{"/sbin/init"}
	c.Signals = Signals{Halt: syscall.SIGPWR, Reboot: syscall.SIGINT, Stop: syscall.SIGKILL}
	c.Autodev = true
}
