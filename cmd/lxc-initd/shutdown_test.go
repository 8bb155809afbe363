package main

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

func TestPlanShutdownHighestOrderFirst(t *testing.T) {
	plan := planShutdown([]shutdownEntry{{Name: "db"}, {Name: "web2", Order: 10}, {Name: "web1", Order: 10}, {Name: "cache", Order: 5}})
	var got [][]string
	for _, b := range plan {
		var n []string
		for _, e := range b {
			n = append(n, e.Name)
		}
		got = append(got, n)
	}
	if want := [][]string{{"web1", "web2"}, {"cache"}, {"db"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("plan = %v, want %v", got, want)
	}
}

// fakeClock is advanced by the fake stops, as real stops take time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// shutdownCall is one stop that runShutdown asked for.
type shutdownCall struct {
	name    string
	timeout time.Duration
	kill    bool
}

// fakeShutdown runs runShutdown over plan with stops that take takes[name]
// to shut down (on clk, which they advance), and checks that the stops of
// a batch run at the same time. It returns the calls, sorted by name, and
// the results by name.
func fakeShutdown(t *testing.T, plan [][]shutdownEntry, timeout time.Duration, deadline time.Time, clk *fakeClock, takes map[string]time.Duration) ([]shutdownCall, map[string]string) {
	t.Helper()
	var mu sync.Mutex
	var calls []shutdownCall
	entered := map[int]*sync.WaitGroup{}
	batchOf := map[string]int{}
	for i, b := range plan {
		wg := &sync.WaitGroup{}
		wg.Add(len(b))
		entered[i] = wg
		for _, e := range b {
			batchOf[e.Name] = i
		}
	}
	stop := func(e shutdownEntry, timeout time.Duration, kill bool) (stopOutcome, error) {
		mu.Lock()
		calls = append(calls, shutdownCall{e.Name, timeout, kill})
		mu.Unlock()
		// Every stop of a batch begins when the batch does: take the
		// time before the barrier, which no stop passes before all entered.
		begin := clk.now()
		wg := entered[batchOf[e.Name]]
		wg.Done()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			return stopOutcome{}, fmt.Errorf("%s stopped alone: its batch is not parallel", e.Name)
		}
		if kill || takes[e.Name] > timeout {
			clk.advanceTo(begin.Add(timeout))
			return stopOutcome{Result: shimctl.StopForced}, nil
		}
		clk.advanceTo(begin.Add(takes[e.Name]))
		return stopOutcome{Result: shimctl.StopGraceful}, nil
	}
	results := runShutdown(plan, timeout, deadline, clk.now, stop)
	sort.Slice(calls, func(i, j int) bool { return calls[i].name < calls[j].name })
	got := map[string]string{}
	for _, r := range results {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got[r.Name] = r.Result
	}
	return calls, got
}

// TestRunShutdownEachItsTimeout: issue 20's case. A hung container of a
// higher order does not shorten the graceful stop of a lower one: every
// container gets its full -t from its own halt signal (or its own stop
// timeout without -t), batches still go in order, in parallel inside.
func TestRunShutdownEachItsTimeout(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	plan := planShutdown([]shutdownEntry{{Name: "hung", Order: 20, Own: 30 * time.Second}, {Name: "hi2", Order: 20, Own: time.Minute}, {Name: "ux1", Order: 10, Own: 5 * time.Second}})
	takes := map[string]time.Duration{"hung": time.Hour, "hi2": time.Second, "ux1": 3 * time.Second}

	calls, got := fakeShutdown(t, plan, 4*time.Second, time.Time{}, &fakeClock{t: t0}, takes)
	want := []shutdownCall{{"hi2", 4 * time.Second, false}, {"hung", 4 * time.Second, false}, {"ux1", 4 * time.Second, false}}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("-t 4: stop calls = %+v\nwant %+v", calls, want)
	}
	if want := map[string]string{"hung": "forced", "hi2": "graceful", "ux1": "graceful"}; !reflect.DeepEqual(got, want) {
		t.Errorf("-t 4: results = %v, want %v", got, want)
	}

	calls, _ = fakeShutdown(t, plan, -1, time.Time{}, &fakeClock{t: t0}, takes)
	want = []shutdownCall{{"hi2", time.Minute, false}, {"hung", 30 * time.Second, false}, {"ux1", 5 * time.Second, false}}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("no -t: stop calls = %+v\nwant %+v (each its own stop timeout)", calls, want)
	}
}

// TestRunShutdownDeadline: --deadline bounds the whole: nobody gets time
// beyond it, and a batch that begins after it is killed at once.
func TestRunShutdownDeadline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	plan := planShutdown([]shutdownEntry{{Name: "hi1", Order: 2}, {Name: "hi2", Order: 2}, {Name: "mid", Order: 1}, {Name: "low"}})
	takes := map[string]time.Duration{"hi1": 10 * time.Second, "hi2": 40 * time.Second, "mid": time.Hour, "low": time.Second}
	calls, got := fakeShutdown(t, plan, 50*time.Second, t0.Add(60*time.Second), &fakeClock{t: t0}, takes)
	want := []shutdownCall{
		{"hi1", 50 * time.Second, false},
		{"hi2", 50 * time.Second, false},
		{"low", 0, true},                 // after the deadline: killed at once
		{"mid", 20 * time.Second, false}, // what hi2's 40 s left of the 60
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("stop calls = %+v\nwant %+v", calls, want)
	}
	if want := map[string]string{"hi1": "graceful", "hi2": "graceful", "mid": "forced", "low": "forced"}; !reflect.DeepEqual(got, want) {
		t.Errorf("results = %v, want %v", got, want)
	}
}

func TestShutdownWithNothingRunning(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"--rundir", t.TempDir(), "-P", t.TempDir(), "shutdown", "-t", "5"}, &out, &errb)
	if code != 0 || out.String() != "no container is running\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	if code := run([]string{"shutdown", "-t", "-1"}, &out, &errb); code != 2 {
		t.Errorf("negative -t: exit %d, want 2", code)
	}
}

// A container whose start is under way (its shim spawned, not yet holding
// the container's lock) reads as stopped: shutdown waits for the start,
// as stop does, instead of skipping a container its shim is about to boot,
// and names one whose start does not settle within startWait.
func TestShutdownWaitsForAStartUnderWay(t *testing.T) {
	rundir := t.TempDir()
	paths := shimctl.PathsFor(rundir, "web")
	if err := os.MkdirAll(paths.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	hold := func() *os.File {
		f, err := shimctl.StartLockFile(paths.StartLock)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	// The start ends (here: fails, no shim) 300 ms in: shutdown waited.
	f := hold()
	time.AfterFunc(300*time.Millisecond, func() { f.Close() })
	var out, errb bytes.Buffer
	began := time.Now()
	code := run([]string{"--rundir", rundir, "-P", t.TempDir(), "shutdown", "-t", "5"}, &out, &errb)
	if took := time.Since(began); took < 250*time.Millisecond {
		t.Errorf("shutdown returned after %s, before the start under way ended", took)
	}
	if code != 0 || out.String() != "no container is running\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}

	// A start that never settles is a failure that names the container.
	f = hold()
	defer f.Close()
	out.Reset()
	errb.Reset()
	code = run([]string{"--rundir", rundir, "-P", t.TempDir(), "shutdown", "-t", "5"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "web: failed: a start is under way") || !strings.Contains(errb.String(), "web") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
