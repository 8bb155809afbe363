package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func names(b []autoEntry) []string {
	var out []string
	for _, e := range b {
		out = append(out, e.Name)
	}
	return out
}

func TestPlanAutostartLowestOrderFirstAndGroups(t *testing.T) {
	entries := []autoEntry{
		{Name: "web2", Order: 10, Groups: []string{"web"}},
		{Name: "db", Order: 0, Groups: []string{"onboot", "db"}},
		{Name: "web1", Order: 10, Groups: []string{"web"}},
		{Name: "cache", Order: 5},
		{Name: "early", Order: -3},
	}
	var got [][]string
	for _, b := range planAutostart(entries, nil) {
		got = append(got, names(b))
	}
	want := [][]string{{"early"}, {"db"}, {"cache"}, {"web1", "web2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan = %v, want %v", got, want)
	}

	got = nil
	for _, b := range planAutostart(entries, []string{"web", "onboot"}) {
		got = append(got, names(b))
	}
	want = [][]string{{"db"}, {"web1", "web2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan for groups web,onboot = %v, want %v", got, want)
	}
	if p := planAutostart(entries, []string{"nosuch"}); len(p) != 0 {
		t.Errorf("plan for an unknown group = %v, want nothing", p)
	}
}

// TestRunBatchesParallelWithinOrderDelayAfterEach proves that the
// containers of one order start at the same time (each start waits until
// all of its batch have entered; sequential starts would never get there),
// that the next order starts only after the previous one finished and its
// longest delay passed, and that no delay follows the last order.
func TestRunBatchesParallelWithinOrderDelayAfterEach(t *testing.T) {
	plan := planAutostart([]autoEntry{
		{Name: "a1", Order: 1, Delay: 2 * time.Second},
		{Name: "a2", Order: 1, Delay: 5 * time.Second},
		{Name: "a3", Order: 1},
		{Name: "b1", Order: 2, Delay: 7 * time.Second},
		{Name: "b2", Order: 2},
		{Name: "c1", Order: 3, Delay: 9 * time.Second},
	}, nil)

	var mu sync.Mutex
	var events []string
	log := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }

	barriers := map[string]*sync.WaitGroup{}
	for _, b := range plan {
		wg := &sync.WaitGroup{}
		wg.Add(len(b))
		for _, e := range b {
			barriers[e.Name] = wg
		}
	}
	start := func(name string) (string, string, error) {
		wg := barriers[name]
		wg.Done()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			return "", "", fmt.Errorf("%s: the others of its order never started alongside it", name)
		}
		log("started " + name[:1])
		if name == "b2" {
			return "", "boom output\n", fmt.Errorf("no rootfs")
		}
		return name + " started (pid 1)\n", "", nil
	}
	sleep := func(d time.Duration) { log("sleep " + d.String()) }
	var reported []string
	failed := runBatches(plan, start, sleep, func(r startResult) {
		s := r.Name + " ok"
		if r.Err != nil {
			s = r.Name + " " + r.Err.Error()
		}
		reported = append(reported, s)
	})

	want := []string{"started a", "started a", "started a", "sleep 5s", "started b", "started b", "sleep 7s", "started c"}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events = %v, want %v", events, want)
	}
	if !reflect.DeepEqual(failed, []string{"b2"}) {
		t.Errorf("failed = %v, want [b2]", failed)
	}
	wantRep := []string{"a1 ok", "a2 ok", "a3 ok", "b1 ok", "b2 no rootfs", "c1 ok"}
	if !reflect.DeepEqual(reported, wantRep) {
		t.Errorf("reported = %v, want %v", reported, wantRep)
	}
}

// TestReportStartOnce: each container's result is one line (the start's
// own, NAME first), warnings indented under it; before issue 20 a started
// container was reported twice ("web: started", then "  web started …").
func TestReportStartOnce(t *testing.T) {
	var b strings.Builder
	reportStart(&b, startResult{Name: "web", Stdout: "web started (pid 5, shim 4)\n", Stderr: "warning: config:3: x\n"})
	reportStart(&b, startResult{Name: "db", Stdout: "db is already running (pid 9, boot 1)\n"})
	reportStart(&b, startResult{Name: "bad", Err: fmt.Errorf("start bad: no rootfs")})
	want := "web: started (pid 5, shim 4)\n  warning: config:3: x\ndb: is already running (pid 9, boot 1)\nbad: failed: start bad: no rootfs\n"
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}

func writeCfg(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestContainerNamesAlongLXCPath(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeCfg(t, a, "one/config", "")
	writeCfg(t, a, "two.conf", "")
	writeCfg(t, a, "notacontainer/README", "")
	writeCfg(t, a, "default.conf", "lxc.net.0.type = veth\n") // LXC's, as in /etc/lxc
	writeCfg(t, a, "lxc.conf", "")
	writeCfg(t, b, "one/config", "") // shadowed by a's
	writeCfg(t, b, "three/config", "")
	got, err := containerNames([]string{a, b, filepath.Join(a, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"one", "three", "two"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
}

func TestAutostartReadsStartKeysOfConfigs(t *testing.T) {
	lxcpath := t.TempDir()
	rootfs := t.TempDir()
	base := "lxc.rootfs.path = dir:" + rootfs + "\n"
	writeCfg(t, lxcpath, "late/config", base+"lxc.start.auto = 1\nlxc.start.order = 20\nlxc.start.delay = 3\nlxc.group = web\n")
	writeCfg(t, lxcpath, "first/config", base+"lxc.start.auto = 1\nlxc.start.order = 1\n")
	writeCfg(t, lxcpath, "manual/config", base+"lxc.start.order = 0\n")
	// The seed's legacy spelling works too.
	writeCfg(t, lxcpath, "legacy/config", "lxc.rootfs = "+rootfs+"\nlxc.start.auto = 1\nlxc.start.order = 1\n")

	e := &env{lxcpath: []string{lxcpath}}
	entries, bad := autostartEntries(e, e.lxcpath)
	if len(bad) != 0 {
		t.Fatalf("bad configs: %v", bad)
	}
	got := map[string]autoEntry{}
	for _, x := range entries {
		got[x.Name] = x
	}
	if len(got) != 3 || got["manual"].Name != "" {
		t.Errorf("entries = %+v, want late, first and legacy only", entries)
	}
	if l := got["late"]; l.Order != 20 || l.Delay != 3*time.Second || !reflect.DeepEqual(l.Groups, []string{"web"}) {
		t.Errorf("late = %+v, want order 20, delay 3s, group web", l)
	}

	// --dry-run prints the plan through the command line.
	var out, errb bytes.Buffer
	code := run([]string{"-P", lxcpath, "autostart", "--dry-run"}, &out, &errb)
	if code != 0 {
		t.Fatalf("autostart --dry-run: exit %d: %s", code, errb.String())
	}
	want := "order 1: first legacy (then wait 0s)\norder 20: late (then wait 3s)\n"
	if out.String() != want {
		t.Errorf("dry run printed:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if code := run([]string{"-P", lxcpath, "autostart", "--dry-run", "--group", "web"}, &out, &errb); code != 0 || out.String() != "order 20: late (then wait 3s)\n" {
		t.Errorf("--group web: exit %d, printed %q", code, out.String())
	}
}

func TestAutostartReportsBrokenConfigs(t *testing.T) {
	lxcpath := t.TempDir()
	writeCfg(t, lxcpath, "broken/config", "lxc.start.auto = maybe\n")
	var out, errb bytes.Buffer
	code := run([]string{"-P", lxcpath, "autostart"}, &out, &errb)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "broken") || !strings.Contains(errb.String(), "lxc.start.auto") {
		t.Errorf("stderr does not name the container and key: %q", errb.String())
	}
}
