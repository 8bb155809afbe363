package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Hooks keep config order within a type, "lxc.hook.X =" clears that type,
// "lxc.hook =" clears every type, lxc.hook.version is 0 or 1, and an
// include's hooks come where the include is (LXC's list semantics).
func TestHookLists(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	if err := os.WriteFile(inc, []byte("lxc.hook.mount = /inc/mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := loadString(t, dir, "lxc.hook.mount = /a/mount one\n"+
		"lxc.hook.start = /a/start\n"+
		"lxc.include = "+inc+"\n"+
		"lxc.hook.mount = /b/mount\n"+
		"lxc.hook.stop = /a/stop\n"+
		"lxc.hook.stop =\n"+
		"lxc.hook.stop = /b/stop\n"+
		"lxc.hook.version = 1\n")
	var mounts []string
	for _, h := range cfg.HooksOf("mount") {
		mounts = append(mounts, h.Cmd)
	}
	if want := []string{"/a/mount one", "/inc/mount", "/b/mount"}; !slices.Equal(mounts, want) {
		t.Errorf("mount hooks %q, want %q", mounts, want)
	}
	if st := cfg.HooksOf("stop"); len(st) != 1 || st[0].Cmd != "/b/stop" || st[0].Pos.Line != 7 {
		t.Errorf("stop hooks after a clear: %+v", st)
	}
	if cfg.HookVersion != 1 {
		t.Errorf("hook version %d, want 1", cfg.HookVersion)
	}
	var paths []string
	for _, p := range cfg.HookPaths() {
		paths = append(paths, p.Path)
		if p.Inside != (p.Key == "lxc.hook.start") {
			t.Errorf("%s %s: inside = %v", p.Key, p.Path, p.Inside)
		}
	}
	if want := []string{"/a/mount", "/a/start", "/inc/mount", "/b/mount", "/b/stop"}; !slices.Equal(paths, want) {
		t.Errorf("HookPaths %q, want %q", paths, want)
	}

	cleared := loadString(t, dir, "lxc.hook.mount = /a/mount\nlxc.hook.start = /a/start\nlxc.hook =\nlxc.hook.stop = /c/stop\n")
	if len(cleared.Hooks) != 1 || cleared.Hooks[0].Type != "stop" {
		t.Errorf("after lxc.hook =: %+v", cleared.Hooks)
	}
}

func loadString(t *testing.T, dir, content string) *Config {
	t.Helper()
	p := filepath.Join(dir, "config")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p, "c1")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
