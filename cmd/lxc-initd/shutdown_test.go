package main

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

func TestPlanShutdownHighestOrderFirst(t *testing.T) {
	plan := planShutdown([]shutdownEntry{{"db", 0}, {"web2", 10}, {"web1", 10}, {"cache", 5}})
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

// TestRunShutdownOneDeadline: every container of a batch stops at the
// same time with the time left until the common deadline; the next batch
// gets what the previous one left; a batch that begins after the deadline
// is killed at once; results say which needed the kill.
func TestRunShutdownOneDeadline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	deadline := t0.Add(60 * time.Second)
	plan := planShutdown([]shutdownEntry{{"hi1", 2}, {"hi2", 2}, {"mid", 1}, {"low", 0}})
	// How long each container takes to shut down by itself.
	takes := map[string]time.Duration{"hi1": 10 * time.Second, "hi2": 40 * time.Second, "mid": time.Hour, "low": time.Second}

	var mu sync.Mutex
	type call struct {
		name    string
		timeout time.Duration
		kill    bool
	}
	var calls []call
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
	stop := func(name string, timeout time.Duration, kill bool) (string, error) {
		mu.Lock()
		calls = append(calls, call{name, timeout, kill})
		mu.Unlock()
		// Every stop of a batch begins when the batch does: take the
		// time before the barrier, which no stop passes before all entered.
		begin := clk.now()
		wg := entered[batchOf[name]]
		wg.Done()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			return "", fmt.Errorf("%s stopped alone: its batch is not parallel", name)
		}
		if kill || takes[name] > timeout {
			clk.advanceTo(begin.Add(timeout))
			return shimctl.StopForced, nil
		}
		clk.advanceTo(begin.Add(takes[name]))
		return shimctl.StopGraceful, nil
	}
	results := runShutdown(plan, deadline, clk.now, stop)

	sort.Slice(calls, func(i, j int) bool { return calls[i].name < calls[j].name })
	want := []call{
		{"hi1", 60 * time.Second, false},
		{"hi2", 60 * time.Second, false},
		{"low", 0, true},                 // after the deadline: killed at once
		{"mid", 20 * time.Second, false}, // what hi2's 40 s left
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("stop calls = %+v\nwant %+v", calls, want)
	}
	got := map[string]string{}
	for _, r := range results {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got[r.Name] = r.Result
	}
	wantRes := map[string]string{"hi1": "graceful", "hi2": "graceful", "mid": "forced", "low": "forced"}
	if !reflect.DeepEqual(got, wantRes) {
		t.Errorf("results = %v, want %v", got, wantRes)
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
