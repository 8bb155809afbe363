// Package cgroup gives a container its own control group, lxc-shim/NAME (or
// lxc.cgroup.dir), in every mounted cgroup hierarchy of the host: each v1
// controller hierarchy and named one (name=systemd) on a v1 host, those plus
// the unified cgroup2 tree on a hybrid host, the cgroup2 tree alone on a v2
// host. It applies the container's limits and device rules, moves processes
// in, freezes, kills everything inside without letting a forking process
// escape, and removes the cgroup depth-first — including the cgroup a dead
// run left behind, which LXC would instead dodge with a "-1" suffix.
//
// Limits are written as raw controller files, the way LXC applies
// lxc.cgroup.* keys: the config model carries file/value pairs, and a
// hybrid host needs the v1 controllers, name=systemd and the unified tree
// handled as one cgroup. Directories, cgroup.procs, subtree_control,
// freezing and killing are plain file operations; the cgroup2 device rules
// are compiled here into a small eBPF program loaded with bpf(2). The
// package deliberately links no cgroup library: containerd's cgroups
// module alone (with cilium/ebpf, protobuf, godbus and logrus behind it)
// tripled the supervisor's resident memory (bench/notes.md).
package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lxc-shim/lxc-shim/config"
)

// DefaultParent is the directory, in every hierarchy, under which a
// container's cgroup is created when lxc.cgroup.dir is not set.
// lxc.cgroup.dir must stay below it too (config checks that).
const DefaultParent = config.CgroupParent

const (
	// removeRetry bounds how long an rmdir is retried while the kernel
	// still reports EBUSY (tasks that were just killed are still exiting).
	removeRetry = 3 * time.Second
	// freezeTimeout bounds Freeze and Thaw: a task in uninterruptible
	// sleep (D state) keeps a v1 cgroup FREEZING until it wakes.
	freezeTimeout = 5 * time.Second
	// killFreezeTimeout is the freeze wait inside one round of Kill, which
	// kills what it found even when the freeze did not settle.
	killFreezeTimeout = time.Second
	// killSettle is how long Kill waits for the processes cgroup.kill
	// killed to be gone before it sweeps with rounds.
	killSettle = 100 * time.Millisecond
	// killTimeout bounds how long Kill waits for the cgroup to empty.
	killTimeout = 15 * time.Second
)

// Cgroup is one container's cgroup in every mounted hierarchy. New only
// computes paths; Create makes the directories.
type Cgroup struct {
	name   string
	cfg    config.Cgroup
	layout string
	hiers  []hier
	// stateDir holds the ownership record (RecordFile); token is the
	// mark this object's Create put on the directories ("" until then:
	// the record's token is the proof).
	stateDir string
	token    string

	// Test knobs: noKillFile makes Kill ignore cgroup.kill (to exercise
	// the freeze/kill/thaw path on a kernel that has the file), v2Freezer
	// makes Freeze use cgroup.freeze even where a v1 freezer is mounted.
	noKillFile bool
	v2Freezer  bool

	// devProg is the cgroup2 device program Create attached (nil: none),
	// kept to be replaced when device add changes the rules; extra are the
	// rules device add granted on top of the config's.
	devProg *os.File
	extra   []config.DeviceRule
}

// hier is one hierarchy and the container's directory in it.
type hier struct {
	mount
	rel string // the container's cgroup path in the hierarchy, "/lxc-shim/NAME"
	dir string // absolute directory
}

// New computes the container's cgroup paths in every mounted hierarchy. It
// reads the mount table but creates nothing. Without a state directory
// (NewRecorded) nothing that exists before Create is ever provably the
// container's: RemoveStale refuses it.
func New(name string, c config.Cgroup) (*Cgroup, error) {
	return NewRecorded(name, c, "")
}

// NewRecorded is New with the container's state directory, where Create
// records the ownership of what it makes (RecordFile) and where Kill,
// Remove and RemoveStale find the proof that a directory left by a dead
// run is the container's.
func NewRecorded(name string, c config.Cgroup, stateDir string) (*Cgroup, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("cgroup: invalid container name %q", name)
	}
	sub := filepath.Join(DefaultParent, name)
	if c.Dir != "" {
		d := filepath.Clean("/" + c.Dir)
		if d == "/" || d != "/"+strings.Trim(c.Dir, "/") {
			return nil, fmt.Errorf("cgroup %s: lxc.cgroup.dir %q: not a plain relative path", name, c.Dir)
		}
		sub = strings.TrimPrefix(d, "/")
		// Only lxc-shim's own subtree: a path into a service's cgroup
		// would make a stop or a cleanup kill that service.
		if parts := strings.Split(sub, "/"); len(parts) < 2 || parts[0] != DefaultParent {
			return nil, fmt.Errorf("cgroup %s: lxc.cgroup.dir %q: not below %s/", name, c.Dir, DefaultParent)
		}
	}
	mounts, err := readMounts()
	if err != nil {
		return nil, err
	}
	g, err := newFromMounts(name, c, sub, mounts)
	if err != nil {
		return nil, err
	}
	g.stateDir = stateDir
	return g, nil
}

// newFromMounts is New on a given set of hierarchies (tests use it to see
// this host as a pure cgroup2 one).
func newFromMounts(name string, c config.Cgroup, sub string, mounts []mount) (*Cgroup, error) {
	var err error
	if len(mounts) == 0 {
		return nil, fmt.Errorf("cgroup %s: no cgroup file system is mounted", name)
	}
	var own map[string]string
	if c.Relative {
		if own, err = ownCgroups(); err != nil {
			return nil, err
		}
	}
	g := &Cgroup{name: name, cfg: c, layout: layoutOf(mounts)}
	for _, m := range mounts {
		rel := "/" + sub
		if c.Relative {
			base, ok := own[m.key]
			if !ok {
				return nil, fmt.Errorf("cgroup %s: lxc.cgroup.relative: this process is in no cgroup of hierarchy %s", name, m.key)
			}
			rel = filepath.Join(base, sub)
		}
		inMount, err := filepath.Rel(m.root, rel)
		if err != nil || inMount == ".." || strings.HasPrefix(inMount, "../") {
			return nil, fmt.Errorf("cgroup %s: %s is outside the part %s of hierarchy %s mounted at %s", name, rel, m.root, m.key, m.point)
		}
		g.hiers = append(g.hiers, hier{mount: m, rel: rel, dir: filepath.Join(m.point, inMount)})
	}
	return g, nil
}

// Name is the container's name.
func (g *Cgroup) Name() string { return g.name }

// Paths maps each hierarchy to the container's directory in it. Keys are a
// v1 hierarchy's controllers joined by commas ("cpu", "cpu,cpuacct"),
// "name=systemd" for a named hierarchy, and "unified" for cgroup2.
func (g *Cgroup) Paths() map[string]string {
	out := make(map[string]string, len(g.hiers))
	for _, h := range g.hiers {
		out[h.key] = h.dir
	}
	return out
}

// Exists reports whether the container's directory exists in any hierarchy.
func (g *Cgroup) Exists() bool {
	for _, h := range g.hiers {
		if _, err := os.Stat(h.dir); err == nil {
			return true
		}
	}
	return false
}

// Create makes the container's directory in every hierarchy and applies
// every limit and device rule. The settings are checked against the host
// first, so a setting the host cannot take fails before anything is made;
// any later failure removes what Create made. The directory must not exist
// yet (RemoveStale removes a dead run's).
func (g *Cgroup) Create() error {
	p, err := g.plan()
	if err != nil {
		return err
	}
	// A leftover keeps its record (RemoveStale needs it as proof).
	for _, h := range g.hiers {
		if _, err := os.Lstat(h.dir); err == nil {
			return fmt.Errorf("cgroup %s: %s already exists (left by a dead run? it is removed by lxc-initd cleanup)", g.name, h.dir)
		}
	}
	// The record first: a crash after a mkdir leaves a directory whose
	// mark the record proves.
	token, err := newToken()
	if err != nil {
		return err
	}
	rec := record{token: token}
	for _, h := range g.hiers {
		rec.dirs = append(rec.dirs, h.dir)
	}
	if err := g.writeRecord(rec); err != nil {
		return err
	}
	g.token = token
	var made []string
	fail := func(err error) error {
		g.closeDevProg()
		for i := len(made) - 1; i >= 0; i-- {
			// Nothing ran in them yet: a plain depth-first rmdir is enough.
			_, _ = removeTree(made[i])
		}
		if !g.Exists() {
			g.dropRecord()
		}
		return err
	}
	for i := range g.hiers {
		h := &g.hiers[i]
		if err := g.prepareParents(h, p.enable[i]); err != nil {
			return fail(err)
		}
		if err := os.Mkdir(h.dir, 0o755); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fail(fmt.Errorf("cgroup %s: %s already exists (left by a dead run? it is removed by lxc-initd cleanup)", g.name, h.dir))
			}
			return fail(fmt.Errorf("cgroup %s: create %s: %w", g.name, h.dir, err))
		}
		made = append(made, h.dir)
		if err := g.mark(h.dir); err != nil {
			return fail(err)
		}
		if hasController(h.mount, "cpuset") && !h.v2 {
			if err := initCpuset(h, h.dir); err != nil {
				return fail(err)
			}
			// cgroups the container makes below its own start with
			// their parent's cpus and mems instead of empty ones, as
			// LXC arranges.
			f := filepath.Join(h.dir, "cgroup.clone_children")
			if err := writeFile(f, "1"); err != nil {
				return fail(fmt.Errorf("cgroup %s: write 1 to %s: %w", g.name, f, err))
			}
		}
	}
	for _, w := range p.writes {
		if err := writeSetting(w); err != nil {
			return fail(err)
		}
	}
	if p.devices != nil {
		if err := g.applyDevices(p.devices, p.rules); err != nil {
			return fail(fmt.Errorf("cgroup %s: %w", g.name, err))
		}
	}
	return nil
}

// prepareParents creates the parents of h.dir (they are shared by all
// containers and never removed), initialises cpuset values on v1, and on
// cgroup2 enables the controllers the settings need in every ancestor's
// cgroup.subtree_control.
func (g *Cgroup) prepareParents(h *hier, enable []enableCtrl) error {
	parent := filepath.Dir(h.dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("cgroup %s: create %s: %w", g.name, parent, err)
	}
	if !h.v2 && hasController(h.mount, "cpuset") {
		// A new v1 cpuset cgroup starts with empty cpus and mems, and no
		// task can join it until both are set: fill every level below
		// the root from its parent (LXC does the same copy).
		var levels []string
		for d := parent; len(d) > len(h.point); d = filepath.Dir(d) {
			levels = append(levels, d)
		}
		for i := len(levels) - 1; i >= 0; i-- {
			if err := initCpuset(h, levels[i]); err != nil {
				return err
			}
		}
	}
	if h.v2 && len(enable) > 0 {
		if err := enableControllers(h, enable); err != nil {
			return fmt.Errorf("cgroup %s: %w", g.name, err)
		}
	}
	return nil
}

// initCpuset copies cpuset cpus and mems from the parent of dir when empty.
func initCpuset(h *hier, dir string) error {
	prefix := "cpuset."
	if h.noprefix {
		prefix = ""
	}
	for _, f := range []string{prefix + "cpus", prefix + "mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("cgroup: read %s: %w", filepath.Join(dir, f), err)
		}
		if strings.TrimSpace(string(cur)) != "" {
			continue
		}
		val, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return fmt.Errorf("cgroup: read %s: %w", filepath.Join(filepath.Dir(dir), f), err)
		}
		if err := writeFile(filepath.Join(dir, f), strings.TrimSpace(string(val))); err != nil {
			return fmt.Errorf("cgroup: initialise %s from its parent: %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}

// Add moves the process pid (all its threads) into the container's cgroup
// in every hierarchy.
func (g *Cgroup) Add(pid int) error {
	for _, h := range g.hiers {
		f := filepath.Join(h.dir, "cgroup.procs")
		if err := writeFile(f, strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroup %s: add pid %d to %s: %w", g.name, pid, f, err)
		}
	}
	return nil
}

// pids lists every process in the container's cgroup and its descendant
// cgroups, in any hierarchy, sorted and without repeats (Kill's view of
// what is left; no command needs it, so it is not exported).
func (g *Cgroup) pids() ([]int, error) {
	set := map[int]bool{}
	for _, h := range g.hiers {
		if err := procsIn(h.dir, set); err != nil {
			return nil, fmt.Errorf("cgroup %s: %w", g.name, err)
		}
	}
	out := make([]int, 0, len(set))
	for pid := range set {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out, nil
}

// procsIn adds the pids in cgroup.procs of dir and every cgroup below it.
// A directory that vanishes meanwhile is not an error.
func procsIn(dir string, set map[int]bool) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
				return nil
			}
			return fmt.Errorf("read %s: %w", filepath.Join(p, "cgroup.procs"), err)
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				set[pid] = true
			}
		}
		return nil
	})
	return err
}

// Remove removes the container's cgroup and every cgroup below it,
// depth-first, in every hierarchy, and then its ownership record. A cgroup
// that is already gone is not an error; one that still holds processes is
// (Kill first), and so is one that is not provably the container's
// (*NotOursError), which is left alone.
func (g *Cgroup) Remove() error {
	if err := g.refuseForeign(); err != nil {
		return err
	}
	_, err := g.remove()
	return err
}

// remove is Remove without the ownership check, also returning the
// container's directories it removed.
func (g *Cgroup) remove() ([]string, error) {
	g.closeDevProg()
	defer func() {
		if !g.Exists() {
			g.dropRecord()
		}
	}()
	var errs []error
	var removed []string
	for _, h := range g.hiers {
		existed := true
		if _, err := os.Stat(h.dir); err != nil {
			existed = false
		}
		if _, err := removeTree(h.dir); err != nil {
			errs = append(errs, fmt.Errorf("cgroup %s: %w", g.name, err))
			continue
		}
		if existed {
			removed = append(removed, h.dir)
		}
	}
	return removed, errors.Join(errs...)
}

// removeTree rmdirs dir after every directory below it, retrying EBUSY for
// a short while (a task that was just killed may still be leaving). It
// returns what it removed, deepest first.
func removeTree(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := removeTree(filepath.Join(dir, e.Name()))
		removed = append(removed, sub...)
		if err != nil {
			return removed, err
		}
	}
	deadline := time.Now().Add(removeRetry)
	delay := 5 * time.Millisecond
	for {
		err := syscall.Rmdir(dir)
		switch {
		case err == nil:
			return append(removed, dir), nil
		case errors.Is(err, syscall.ENOENT):
			return removed, nil
		case errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline):
			time.Sleep(delay)
			delay = min(2*delay, 100*time.Millisecond)
		default:
			return removed, fmt.Errorf("remove %s: %w", dir, err)
		}
	}
}

// RemoveStale removes what a dead run of this container left: if the
// container's cgroup exists in any hierarchy and every directory of it
// carries the mark the state directory's record holds, every process still
// in it is killed (freeze, SIGKILL, thaw) and the cgroup is removed
// depth-first. It returns the container's directories it removed (their
// subdirectories went with them). A directory that is not provably the
// container's (made by someone else, or by lxc-shim for a run whose record
// is gone) is a *NotOursError and nothing is touched. The caller must hold
// the container's lock: a live run's cgroup would be killed just the same.
// The cgroup's name is never changed to get around a leftover (LXC's "-1",
// "-2" suffixes); a cgroup that cannot be removed is an error.
func (g *Cgroup) RemoveStale() ([]string, error) {
	if !g.Exists() {
		// Nothing at the paths the config gives now. The record may
		// still name a dead run's cgroup elsewhere (lxc.cgroup.dir was
		// changed since): it is the only proof left of that cgroup, so
		// it stays, and the start is refused until the admin decides.
		r, err := g.readRecord()
		if err != nil {
			return nil, err
		}
		var left []string
		for _, d := range r.dirs {
			if _, err := os.Lstat(d); err == nil {
				left = append(left, d)
			}
		}
		if len(left) > 0 {
			return nil, fmt.Errorf("cgroup %s: a dead run's cgroup is still at %s (recorded in %s), not where the config now puts it; stop what runs there and remove it by hand (rmdir, deepest first), or set lxc.cgroup.dir back", g.name, strings.Join(left, ", "), g.recordPath())
		}
		g.dropRecord()
		return nil, nil
	}
	if err := g.refuseForeign(); err != nil {
		return nil, err
	}
	if err := g.Kill(); err != nil {
		return nil, fmt.Errorf("remove stale cgroup: %w", err)
	}
	removed, err := g.remove()
	if err != nil {
		return removed, fmt.Errorf("remove stale cgroup: %w", err)
	}
	return removed, nil
}

// writeFile writes a value to an existing cgroup file in one write(2), as
// the kernel parses each write whole.
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(value)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

func hasController(m mount, c string) bool {
	for _, x := range m.controllers {
		if x == c {
			return true
		}
	}
	return false
}
