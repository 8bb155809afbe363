package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostNoLSM is a host without AppArmor or SELinux (this machine); hostLSM
// one with both, so security keys reach the model.
var (
	hostNoLSM = Options{
		AppArmor: func() bool { return false },
		SELinux:  func() bool { return false },
		Getenv:   func(string) (string, bool) { return "", false },
	}
	hostLSM = Options{
		AppArmor: func() bool { return true },
		SELinux:  func() bool { return true },
		Getenv:   func(string) (string, bool) { return "", false },
	}
)

// writeFiles writes name->content under a new temp dir and returns it.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadText loads text as DIR/config with the given extra files.
func loadText(t testing.TB, text string, extra map[string]string, opts Options) (*Config, error, string) {
	t.Helper()
	files := map[string]string{"config": text}
	for k, v := range extra {
		files[k] = v
	}
	dir := writeFiles(t, files)
	c, err := LoadWith(filepath.Join(dir, "config"), "c1", opts)
	return c, err, dir
}

// diagLines renders diagnostics with dir/ removed from file names.
func diagLines(ds []Diagnostic, dir string) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
		if dir != "" {
			out[i] = strings.ReplaceAll(out[i], dir+"/", "")
		}
	}
	return out
}

// errLines is the list of errors of err (a *Errors), dir/ removed.
func errLines(t testing.TB, err error, dir string) []string {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not *Errors", err, err)
	}
	return diagLines(errs.List, dir)
}

// modelJSON is the model without what legitimately differs between two
// spellings of the same config (file name, warnings, legacy flag).
func modelJSON(t testing.TB, c *Config) string {
	t.Helper()
	cc := *c
	cc.File, cc.Warnings, cc.HasLegacyKeys = "", nil, false
	b, err := json.Marshal(&cc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func errorsIsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
