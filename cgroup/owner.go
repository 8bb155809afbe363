package cgroup

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lxc-shim/lxc-shim/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Ownership. A cgroup path alone proves nothing: lxc.cgroup.dir may name a
// service's cgroup, and anyone can mkdir lxc-shim/NAME and put a process in
// it. So Create marks every directory it makes with a random token, in an
// extended attribute the kernel keeps with the directory (trusted.*: only a
// process with CAP_SYS_ADMIN can set one, so neither a container nor an
// unprivileged user can forge it), and records the token and the
// directories in the container's state directory before making them. Kill,
// Remove and RemoveStale act only on directories whose mark matches the
// record; anything else is refused with a message that names it.

// RecordFile is the name, in a container's state directory, of the record
// of the cgroup its run created:
//
//	token HEX
//	dir /sys/fs/cgroup/unified/lxc-shim/NAME
//	...
const RecordFile = "cgroup"

// ownerXattr holds "NAME TOKEN" on every directory Create made.
const ownerXattr = "trusted.lxc-shim.owner"

// record is the content of RecordFile.
type record struct {
	token string
	dirs  []string
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cgroup: ownership token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (g *Cgroup) recordPath() string {
	if g.stateDir == "" {
		return ""
	}
	return filepath.Join(g.stateDir, RecordFile)
}

// readRecord reads the record; a missing one is a zero record.
func (g *Cgroup) readRecord() (record, error) {
	var r record
	p := g.recordPath()
	if p == "" {
		return r, nil
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("cgroup %s: read ownership record: %w", g.name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "token":
			r.token = v
		case "dir":
			r.dirs = append(r.dirs, v)
		}
	}
	if err := sc.Err(); err != nil {
		return r, fmt.Errorf("cgroup %s: read %s: %w", g.name, p, err)
	}
	return r, nil
}

// writeRecord writes the record before the directories are made, so that
// a shim killed right after a mkdir leaves the token behind for cleanup
// (not synced: see package atomicfile).
func (g *Cgroup) writeRecord(r record) error {
	p := g.recordPath()
	if p == "" {
		return nil
	}
	if err := os.MkdirAll(g.stateDir, 0o700); err != nil {
		return fmt.Errorf("cgroup %s: ownership record: %w", g.name, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "token %s\n", r.token)
	for _, d := range r.dirs {
		fmt.Fprintf(&b, "dir %s\n", d)
	}
	if err := atomicfile.Write(p, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("cgroup %s: ownership record: %w", g.name, err)
	}
	return nil
}

func (g *Cgroup) dropRecord() {
	if p := g.recordPath(); p != "" {
		os.Remove(p)
	}
}

// mark sets the ownership attribute on dir.
func (g *Cgroup) mark(dir string) error {
	if err := unix.Setxattr(dir, ownerXattr, []byte(g.name+" "+g.token), 0); err != nil {
		return fmt.Errorf("cgroup %s: mark %s as lxc-shim's (%s): %w", g.name, dir, ownerXattr, err)
	}
	return nil
}

// markOf reads dir's ownership attribute ("" when it has none).
func markOf(dir string) (string, error) {
	// "NAME TOKEN": a name takes up to 255 bytes.
	buf := make([]byte, 512)
	n, err := unix.Getxattr(dir, ownerXattr, buf)
	if errors.Is(err, unix.ENODATA) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// foreign lists the container's directories that exist but are not
// provably this container's: not marked with the token that this object
// created them with or that the state directory's record holds, or not
// listed there. A vanished directory is neither.
func (g *Cgroup) foreign() ([]string, error) {
	token := g.token
	var listed []string
	if token == "" {
		r, err := g.readRecord()
		if err != nil {
			return nil, err
		}
		token, listed = r.token, r.dirs
	}
	var out []string
	for _, h := range g.hiers {
		if _, err := os.Stat(h.dir); err != nil {
			continue
		}
		m, err := markOf(h.dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cgroup %s: read %s of %s: %w", g.name, ownerXattr, h.dir, err)
		}
		ok := token != "" && m == g.name+" "+token
		if ok && g.token == "" && !slices.Contains(listed, h.dir) {
			ok = false
		}
		if !ok && !errors.Is(err, fs.ErrNotExist) {
			out = append(out, h.dir)
		}
	}
	return out, nil
}

// NotOursError is a cgroup directory that lxc-shim will not touch because
// it cannot prove that it made it for this container.
type NotOursError struct {
	Name   string
	Dirs   []string
	Record string // the record the marks were checked against ("" if none)
}

func (e *NotOursError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cgroup %s: ", e.Name)
	for i, d := range e.Dirs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d)
	}
	if len(e.Dirs) == 1 {
		b.WriteString(" exists but was")
	} else {
		b.WriteString(" exist but were")
	}
	fmt.Fprintf(&b, " not created by lxc-shim for %s (no %s mark matching ", e.Name, ownerXattr)
	if e.Record != "" {
		b.WriteString(e.Record)
	} else {
		b.WriteString("a record of this container's runs")
	}
	b.WriteString("), so nothing in it is killed or removed; if it is not in use, remove it by hand: ")
	b.WriteString("see its processes in DIR/cgroup.procs (and its subdirectories'), stop them or move them elsewhere, then rmdir the directories depth-first")
	return b.String()
}

// refuseForeign is a *NotOursError when any existing directory of the
// container is not provably its own.
func (g *Cgroup) refuseForeign() error {
	dirs, err := g.foreign()
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return nil
	}
	return &NotOursError{Name: g.name, Dirs: dirs, Record: g.recordPath()}
}

// Owned reports whether the container's cgroup exists and every directory
// of it is provably this container's (see NotOursError).
func (g *Cgroup) Owned() (bool, error) {
	if !g.Exists() {
		return false, nil
	}
	if err := g.refuseForeign(); err != nil {
		return false, err
	}
	return true, nil
}

// Contains reports whether process pid is in the container's cgroup (or
// below it) in any hierarchy, as /proc/PID/cgroup shows it to this
// process (whose cgroup namespace must be the host's).
func (g *Cgroup) Contains(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	paths := parseProcCgroup(string(b))
	for _, h := range g.hiers {
		p, ok := paths[h.key]
		if ok && (p == h.rel || strings.HasPrefix(p, h.rel+"/")) {
			return true
		}
	}
	return false
}

// Rerecord writes the ownership record again for the directories this
// object created (after someone removed the state directory under a live
// run), so that a crash later still leaves a provable cgroup.
func (g *Cgroup) Rerecord() error {
	if g.token == "" || !g.Exists() {
		return nil
	}
	// Only when it is missing or not this run's: writing it wakes
	// whoever watches the state directory.
	if have, err := g.readRecord(); err == nil && have.token == g.token {
		return nil
	}
	rec := record{token: g.token}
	for _, h := range g.hiers {
		rec.dirs = append(rec.dirs, h.dir)
	}
	return g.writeRecord(rec)
}

// InRecorded reports whether process pid is in a cgroup that the record in
// the state directory stateDir of container name proves the container's:
// a recorded directory that carries the recorded mark, or one below it. It
// needs no config, for readers that have only the state directory.
func InRecorded(name, stateDir string, pid int) bool {
	g := &Cgroup{name: name, stateDir: stateDir}
	r, err := g.readRecord()
	if err != nil || r.token == "" {
		return false
	}
	for _, dir := range r.dirs {
		if m, err := markOf(dir); err != nil || m != name+" "+r.token {
			continue
		}
		set := map[int]bool{}
		if procsIn(dir, set) == nil && set[pid] {
			return true
		}
	}
	return false
}
