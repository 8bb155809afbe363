package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// The new content replaces the old, with the mode asked for, leaving no
// temporary file; an existing symlink at the temporary names is never
// followed (the names are random and created exclusively).
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "record")
	for _, durable := range []bool{false, true} {
		if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Write(p, []byte("new\n"), 0o600, durable); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "new\n" {
			t.Errorf("durable %v: read %q, %v", durable, b, err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("durable %v: mode %v, %v", durable, fi.Mode(), err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Errorf("durable %v: %d files left in the directory", durable, len(ents))
		}
	}
	if err := Write(filepath.Join(dir, "missing", "x"), nil, 0o600, false); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
