package main

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestSeriesMedianAndCell(t *testing.T) {
	var s series
	for _, v := range []float64{5, 1, 3, 2} {
		s.add(v)
	}
	if got := s.median(); got != 2.5 {
		t.Errorf("median of 1 2 3 5 = %v, want 2.5", got)
	}
	if got := s.cell(1); got != "2.5 (1.0–5.0, n=4)" {
		t.Errorf("cell = %q", got)
	}
	var f series
	f.fail(errors.New("start bz1: a|b\nc"))
	if got := f.cell(1); got != `failed: start bz1: a\|b c` {
		t.Errorf("failed cell = %q, want the error made table-safe", got)
	}
}

func TestReadSelf(t *testing.T) {
	pid := os.Getpid()
	m, err := readMem(pid)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.PSS <= 0 || m.Threads <= 0 {
		t.Errorf("readMem(self) = %+v, want positive RSS, PSS and threads", m)
	}
	a, err := readActivity(pid)
	if err != nil {
		t.Fatal(err)
	}
	if a.Threads <= 0 {
		t.Errorf("readActivity(self) threads = %d", a.Threads)
	}
	maps, err := smapsByFile(pid)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mp := range maps {
		if strings.HasSuffix(os.Args[0], mp.name) {
			found = true
		}
	}
	if !found {
		t.Errorf("smapsByFile(self) does not list the test binary %s: %+v", os.Args[0], maps)
	}
	if isInit(pid) {
		t.Errorf("isInit(self) = true, want false (not PID 1 of a namespace)")
	}
}
