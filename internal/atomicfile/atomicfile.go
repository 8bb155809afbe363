// Package atomicfile writes a file so that a reader sees the old content
// or the new one, never a part: a temporary file in the same directory,
// renamed over the path. The shim's state, and the ownership records that
// cleanup trusts, are written this way.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data, mode perm. The temporary file is
// ".NAME-*.tmp", created exclusively (never an existing file or a symlink
// someone left under that name), so watchers of the directory can tell it
// from the files it replaces. With durable, the file and its directory are
// synced before Write returns: a record of what was created must survive a
// crash of the host.
func Write(path string, data []byte, perm os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	_, werr := f.Write(data)
	cherr := f.Chmod(perm)
	var serr error
	if durable {
		serr = f.Sync()
	}
	if err := errors.Join(werr, cherr, serr, f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if durable {
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}
