package asynclog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is a writer that fails or blocks on demand.
type sink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	fail  bool
	block chan struct{} // non-nil: Write waits for it to close
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	block := s.block
	s.mu.Unlock()
	if block != nil {
		<-block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return 0, errors.New("no space left on device")
	}
	return s.buf.Write(p)
}

func (s *sink) set(fail bool, block chan struct{}) {
	s.mu.Lock()
	s.fail, s.block = fail, block
	s.mu.Unlock()
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestFailingSinkCountsAndReports: lines that cannot be written are
// counted, and the count is written before the first line that can be.
func TestFailingSinkCountsAndReports(t *testing.T) {
	s := &sink{fail: true}
	w := New(s, 0)
	for range 5 {
		w.Write([]byte("lost\n"))
	}
	waitFor(t, func() bool { return w.Dropped() == 5 })
	s.set(false, nil)
	w.Write([]byte("kept\n"))
	w.Close(time.Second)
	out := s.String()
	if strings.Contains(out, "lost") {
		t.Errorf("a failed line was written later: %q", out)
	}
	note := strings.Index(out, `msg="log lines dropped" dropped=5 total=5`)
	if note < 0 || note > strings.Index(out, "kept") {
		t.Errorf("no drop report before the next line: %q", out)
	}
}

// TestHungSinkNeverBlocks: with the sink blocked, Write returns at once
// and the lines beyond the queue are dropped and counted.
func TestHungSinkNeverBlocks(t *testing.T) {
	block := make(chan struct{})
	s := &sink{}
	s.set(false, block)
	w := New(s, 4)
	start := time.Now()
	for range 100 {
		w.Write([]byte("line\n"))
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("100 writes to a hung sink took %v", took)
	}
	// The writer holds one line, the queue four: the rest is dropped.
	if d := w.Dropped(); d < 95 {
		t.Errorf("dropped %d lines, want at least 95", d)
	}
	close(block)
	w.Close(time.Second)
	if !strings.Contains(s.String(), "dropped=") {
		t.Errorf("no drop report once the sink unblocked: %q", s.String())
	}
}

// TestQueueLetGoOnceWritten: lines are written in order, and once the
// writer has caught up the queue holds no backing array (an idle shim
// keeps no log buffer).
func TestQueueLetGoOnceWritten(t *testing.T) {
	block := make(chan struct{})
	s := &sink{}
	s.set(false, block)
	w := New(s, 0)
	var want strings.Builder
	for i := range 200 {
		line := "line " + strings.Repeat("x", i%7) + "\n"
		w.Write([]byte(line))
		want.WriteString(line)
	}
	w.mu.Lock()
	queued := len(w.lines)
	w.mu.Unlock()
	if queued < 199 {
		t.Fatalf("%d lines queued behind a hung sink, want at least 199", queued)
	}
	close(block)
	waitFor(t, func() bool { return s.String() == want.String() })
	w.mu.Lock()
	c := cap(w.lines)
	w.mu.Unlock()
	if c != 0 {
		t.Errorf("the drained queue still holds an array of %d lines", c)
	}
	w.Close(time.Second)
	if d := w.Dropped(); d != 0 {
		t.Errorf("dropped %d lines, want 0", d)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 5 s")
}

// TestFileOpensLate: a log whose directory does not exist yet costs the
// lines written meanwhile (counted), and is opened once it can be.
func TestFileOpensLate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	f := &File{Path: filepath.Join(dir, "c.log")}
	w := New(f, 0)
	w.Write([]byte("lost\n"))
	waitFor(t, func() bool { return w.Dropped() == 1 })
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Tried again at most once a second.
	time.Sleep(1100 * time.Millisecond)
	w.Write([]byte("kept\n"))
	w.Close(time.Second)
	b, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "dropped=1") || !strings.Contains(string(b), "kept") || strings.Contains(string(b), "lost") {
		t.Errorf("log: %q", b)
	}
}
