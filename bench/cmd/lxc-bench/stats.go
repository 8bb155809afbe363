package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// series is one measure on one side: every sample, or the error that
// stopped it.
type series struct {
	samples []float64 // milliseconds, or kB, or counts
	err     error
}

func (s *series) addDur(d time.Duration) {
	s.samples = append(s.samples, float64(d.Microseconds())/1000)
}
func (s *series) add(v float64) { s.samples = append(s.samples, v) }

func (s *series) fail(err error) {
	if s.err == nil {
		slog.Warn("measure failed", "err", err)
		s.err = err
	}
}

func (s *series) ok() bool { return len(s.samples) > 0 }

func (s *series) sorted() []float64 {
	v := append([]float64(nil), s.samples...)
	sort.Float64s(v)
	return v
}

func (s *series) median() float64 {
	v := s.sorted()
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s *series) min() float64 { v := s.sorted(); return v[0] }
func (s *series) max() float64 { v := s.sorted(); return v[len(v)-1] }

func (s *series) sum() float64 {
	t := 0.0
	for _, v := range s.samples {
		t += v
	}
	return t
}

// cell formats "median (min–max, n)" with the unit's precision, or the
// error.
func (s *series) cell(prec int) string {
	if !s.ok() {
		if s.err != nil {
			return "failed: " + shorten(s.err.Error(), 120)
		}
		return "not measured"
	}
	f := fmt.Sprintf("%%.%df (%%.%df–%%.%df, n=%%d)", prec, prec, prec)
	c := fmt.Sprintf(f, s.median(), s.min(), s.max(), len(s.samples))
	if s.err != nil {
		c += " ⚠ " + shorten(s.err.Error(), 80)
	}
	return c
}

// shorten cuts s to n runes and makes it safe inside a markdown table.
func shorten(s string, n int) string {
	s = strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
