package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lxc-shim/lxc-shim/config"
)

// cmdUpdateConfig prints a config rewritten to LXC 3+ keys, or with
// --in-place replaces it after saving FILE.backup.
func cmdUpdateConfig(e *env, args []string) error {
	fs := flag.NewFlagSet("update-config", flag.ContinueOnError)
	inPlace := fs.Bool("in-place", false, "rewrite FILE (saving FILE.backup first)")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("%w (usage: update-config FILE [--in-place])", err)}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: update-config FILE [--in-place]")}
	}
	path := pos[0]
	out, err := config.Update(path)
	if err != nil {
		return err
	}
	if !*inPlace {
		_, err := e.stdout.Write(out)
		return err
	}
	real, err := rewriteInPlace(path, out)
	if err != nil {
		return err
	}
	// Say what was written where: the backup is a file the user did not
	// ask for by name.
	fmt.Fprintf(e.stdout, "%s: rewritten to LXC 3+ keys; the original is saved as %s.backup\n", real, real)
	return nil
}

// rewriteInPlace saves path's content to path.backup, then replaces it
// with data through a temporary file and a rename, so a crash leaves
// either the old or the new file. A symlinked config (the seed's
// /etc/lxc/NAME/config) is followed, so the link stays a link; it returns
// the file it rewrote.
func rewriteInPlace(path string, data []byte) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("update-config %s: %w", path, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("update-config %s: %w", path, err)
	}
	old, err := os.ReadFile(real)
	if err != nil {
		return "", fmt.Errorf("update-config %s: %w", path, err)
	}
	if err := writeFileSync(real+".backup", old, st.Mode().Perm()); err != nil {
		return "", fmt.Errorf("update-config %s: save backup: %w", path, err)
	}
	tmp := real + ".update-config.tmp"
	if err := writeFileSync(tmp, data, st.Mode().Perm()); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("update-config %s: %w", path, err)
	}
	if err := os.Rename(tmp, real); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("update-config %s: %w", path, err)
	}
	return real, nil
}

func writeFileSync(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
