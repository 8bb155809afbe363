package netcleanup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lxc-shim/lxc-shim/internal/atomicfile"
)

// DevicesFile is the name, in a container's state directory, of the file
// listing the host devices a run created or moved, one a line:
//
//	NAME [KIND [KEY=VALUE ...]]
//
// The first field is always the host device name, so a reader that wants
// only names takes it. KIND is "veth" (a host veth end, removed when stale;
// ifindex is the host end's, chosen before it is created, and netns the
// inode of the network namespace its peer was created in) or "phys" (a host
// device moved into the container; KEY=VALUE holds ifindex, netns, inner
// (its name inside), mtu, mac, setmac and up, so it can be found and renamed
// back after it returns to the host). A device is the container's only when
// both its name and its ifindex match a line: the kernel never reuses an
// ifindex it allocated until the 31-bit counter wraps, so a device made by
// someone else under a recorded name is never taken for the container's.
const DevicesFile = "devices"

// record is one line of the devices file.
type record struct {
	Name    string
	Kind    string
	Ifindex int
	NetNS   uint64 // inode of the network namespace it was moved or created into
	Inner   string
	MTU     int
	MAC     string // the device's own MAC before the container
	SetMAC  string // the MAC set for the container, if any
	Up      bool   // it was up on the host
}

func (r record) String() string {
	if r.Kind == "" {
		return r.Name
	}
	s := r.Name + " " + r.Kind
	if r.Ifindex > 0 {
		s += fmt.Sprintf(" ifindex=%d", r.Ifindex)
	}
	if r.NetNS > 0 {
		s += fmt.Sprintf(" netns=%d", r.NetNS)
	}
	if r.Kind == typePhys {
		s += fmt.Sprintf(" inner=%s mtu=%d mac=%s", r.Inner, r.MTU, r.MAC)
		if r.SetMAC != "" {
			s += " setmac=" + r.SetMAC
		}
		if r.Up {
			s += " up=1"
		}
	}
	return s
}

func parseRecord(line string) (record, bool) {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return record{}, false
	}
	r := record{Name: f[0]}
	if len(f) > 1 {
		r.Kind = f[1]
	}
	for _, kv := range f[min(2, len(f)):] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "ifindex":
			r.Ifindex, _ = strconv.Atoi(v)
		case "netns":
			r.NetNS, _ = strconv.ParseUint(v, 10, 64)
		case "inner":
			r.Inner = v
		case "mtu":
			r.MTU, _ = strconv.Atoi(v)
		case "mac":
			r.MAC = v
		case "setmac":
			r.SetMAC = v
		case "up":
			r.Up = v == "1"
		}
	}
	return r, true
}

// readRecords reads a devices file; a missing file is no records.
func readRecords(path string) ([]record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	defer f.Close()
	var rs []record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if r, ok := parseRecord(sc.Text()); ok {
			rs = append(rs, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read devices %s: %w", path, err)
	}
	return rs, nil
}

// appendRecord adds r to stateDir's devices file before the caller creates
// the device, so that a shim killed right after leaves the name behind
// (not synced: a host crash removes the device too; see package
// atomicfile).
func appendRecord(stateDir string, r record) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("record device %s: %w", r.Name, err)
	}
	path := filepath.Join(stateDir, DevicesFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record device %s: %w", r.Name, err)
	}
	_, werr := f.WriteString(r.String() + "\n")
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("record device %s in %s: %w", r.Name, path, err)
	}
	return nil
}

// writeRecords replaces the devices file with rs (removes it when empty).
func writeRecords(stateDir string, rs []record) error {
	path := filepath.Join(stateDir, DevicesFile)
	if len(rs) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String() + "\n")
	}
	return atomicfile.Write(path, []byte(b.String()), 0o600)
}

// dropRecords rewrites the devices file without the records done says are
// handled, keeping lines other runs or RemoveStale left.
func dropRecords(stateDir string, done func(record) bool) error {
	rs, err := readRecords(filepath.Join(stateDir, DevicesFile))
	if err != nil {
		return err
	}
	keep := rs[:0]
	for _, r := range rs {
		if !done(r) {
			keep = append(keep, r)
		}
	}
	return writeRecords(stateDir, keep)
}

// Rerecord writes again, into the state directory's devices file, the
// records of what Setup made and Teardown has not undone yet (after
// someone removed the state directory under a live run), so that a crash
// later still leaves provable devices. Nil-safe. The caller must not run it
// concurrently with Teardown.
func (h *Host) Rerecord() error {
	if h == nil {
		return nil
	}
	have, err := readRecords(filepath.Join(h.stateDir, DevicesFile))
	if err != nil {
		return err
	}
	for _, m := range h.made {
		if m.rec.Name == "" || slices.Contains(have, m.rec) {
			continue
		}
		if err := appendRecord(h.stateDir, m.rec); err != nil {
			return fmt.Errorf("container %s: %w", h.name, err)
		}
	}
	return nil
}
