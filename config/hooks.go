package config

import (
	"path/filepath"
	"strings"
)

// Hook is one lxc.hook.TYPE line. Cmd is the value as written: LXC hands
// it to /bin/sh ("exec CMD ..."), so it may carry arguments of its own.
type Hook struct {
	Type string `json:"type"` // "pre-start", "pre-mount", "mount", "autodev", "start-host", "start", "stop", "post-stop"
	Cmd  string `json:"cmd"`
	Pos  Pos    `json:"-"`
}

// Program is the hook's executable: the first word of Cmd.
func (h Hook) Program() string {
	if f := strings.Fields(h.Cmd); len(f) > 0 {
		return f[0]
	}
	return ""
}

// HookTypes are the hook types lxc-shim runs, in the order of a container's
// life under LXC 5 (start before start-host: LXC runs the container's
// start hook first).
var HookTypes = []string{"pre-start", "pre-mount", "mount", "autodev", "start", "start-host", "stop", "post-stop"}

// HooksOf returns the hooks of one type in config order.
func (c *Config) HooksOf(typ string) []Hook {
	var out []Hook
	for _, h := range c.Hooks {
		if h.Type == typ {
			out = append(out, h)
		}
	}
	return out
}

// HookProgram is an executable the config asks lxc-shim to run, and where.
// Inside is true for the start hook, whose path is resolved inside the
// container's root file system (the others are host paths).
type HookProgram struct {
	Path   string
	Key    string
	Inside bool
	Pos    Pos
}

// HookPaths lists every program a hook or network script of the config
// names, for host checks (does it exist, is it executable): the reader
// only checks that each path is absolute.
func (c *Config) HookPaths() []HookProgram {
	var out []HookProgram
	for _, h := range c.Hooks {
		out = append(out, HookProgram{Path: h.Program(), Key: "lxc.hook." + h.Type, Inside: h.Type == "start", Pos: h.Pos})
	}
	for _, n := range c.Net {
		for _, s := range []string{n.ScriptUp, n.ScriptDown} {
			if f := strings.Fields(s); len(f) > 0 {
				out = append(out, HookProgram{Path: f[0], Key: "lxc.net.N.script", Pos: n.Pos})
			}
		}
	}
	return out
}

// hook handles lxc.hook.TYPE: a value adds a hook after those of its type
// read so far, an empty value clears that type (as in LXC).
func (b *builder) hook(p Pos, v string) {
	typ := strings.TrimPrefix(p.Key, "lxc.hook.")
	if v == "" {
		kept := b.cfg.Hooks[:0]
		for _, h := range b.cfg.Hooks {
			if h.Type != typ {
				kept = append(kept, h)
			}
		}
		b.cfg.Hooks = kept
		return
	}
	prog := Hook{Cmd: v}.Program()
	if !filepath.IsAbs(prog) {
		b.errorf(p, "hook path %q must be absolute", prog)
		return
	}
	b.cfg.Hooks = append(b.cfg.Hooks, Hook{Type: typ, Cmd: v, Pos: p})
}
