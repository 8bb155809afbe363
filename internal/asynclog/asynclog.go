// Package asynclog holds a log writer that never blocks its caller: the
// shim logs from its event loop and its control goroutines, and a full,
// failing or hung log file system must neither stop nor slow them. Lines
// go through a bounded queue to one goroutine that writes them; a line
// that does not fit in the queue or cannot be written is dropped and
// counted, and the count is written to the log as soon as a line can be
// written again.
package asynclog

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultDepth is the queue's length in lines: a burst of a boot's log
// (some dozens of lines) fits while the file system is slow.
const DefaultDepth = 1024

// Writer is an io.Writer whose Write never blocks and never fails. Each
// Write is one log line (slog's handlers write a record in one call).
//
// The queue is a slice that grows with what waits and is let go once the
// writer has caught up, not a channel of depth slots: a channel's buffer
// (24 kB for 1024 lines) would be allocated, zeroed and kept for the
// shim's whole life while an idle shim has nothing queued.
type Writer struct {
	sink    io.Writer
	depth   int
	mu      sync.Mutex // lines, closed
	lines   [][]byte
	closed  bool
	wake    chan struct{} // capacity one: lines were queued or Close was called
	dropped atomic.Uint64
	done    chan struct{}
	now     func() time.Time
}

// New starts a Writer that writes to sink with a queue of depth lines
// (DefaultDepth when depth <= 0).
func New(sink io.Writer, depth int) *Writer {
	if depth <= 0 {
		depth = DefaultDepth
	}
	w := &Writer{sink: sink, depth: depth, wake: make(chan struct{}, 1), done: make(chan struct{}), now: time.Now}
	go w.run()
	return w
}

// Write queues a copy of p. When the queue is full (the sink is slow or
// hung) the line is dropped and counted. It always reports success: a log
// line is never worth failing the caller.
func (w *Writer) Write(p []byte) (int, error) {
	line := append([]byte(nil), p...)
	w.mu.Lock()
	if w.closed || len(w.lines) >= w.depth {
		w.mu.Unlock()
		w.dropped.Add(1)
		return len(p), nil
	}
	w.lines = append(w.lines, line)
	w.mu.Unlock()
	w.signal()
	return len(p), nil
}

// signal wakes the writer's goroutine; one pending wake-up is enough, as
// it takes every queued line before it waits again.
func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Dropped is the number of lines dropped so far.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// next waits for the oldest queued line; ok is false once the Writer is
// closed and nothing is left.
func (w *Writer) next() (line []byte, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.lines) == 0 {
		if w.closed {
			return nil, false
		}
		w.mu.Unlock()
		<-w.wake
		w.mu.Lock()
	}
	line, w.lines[0] = w.lines[0], nil
	w.lines = w.lines[1:]
	if len(w.lines) == 0 {
		w.lines = nil // the backing array goes with the burst
	}
	return line, true
}

// run writes the queued lines. Before a line, when lines were dropped
// since the last report, it writes how many.
func (w *Writer) run() {
	defer close(w.done)
	var reported uint64
	for {
		line, ok := w.next()
		if !ok {
			return
		}
		if d := w.dropped.Load(); d > reported {
			note := fmt.Sprintf("time=%s level=WARN msg=\"log lines dropped\" dropped=%d total=%d reason=\"the log could not be written\"\n",
				w.now().Format(time.RFC3339Nano), d-reported, d)
			if _, err := w.sink.Write([]byte(note)); err != nil {
				w.dropped.Add(1)
				continue
			}
			reported = d
		}
		if _, err := w.sink.Write(line); err != nil {
			w.dropped.Add(1)
		}
	}
}

// Close stops taking lines and waits up to wait for the queued ones to be
// written (a hung sink is given up on: its lines are lost).
func (w *Writer) Close(wait time.Duration) {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.signal()
	select {
	case <-w.done:
	case <-time.After(wait):
	}
}

// File is a log file that is opened (O_APPEND, created mode 0640) when a
// line is written and it is not open yet, at most once a second: a log
// that cannot be opened at start (full or read-only file system, removed
// directory) costs the lines until it can, not the start. Only the
// Writer's goroutine writes to it.
type File struct {
	Path  string
	f     *os.File
	tried time.Time
}

// Write opens the file if needed and writes p to it.
func (l *File) Write(p []byte) (int, error) {
	if l.f == nil {
		if time.Since(l.tried) < time.Second {
			return 0, fmt.Errorf("log %s: not open", l.Path)
		}
		l.tried = time.Now()
		f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Write(p)
}

// OpenFile opens the log file at path for appending (created mode 0640),
// making its directory dir first.
func OpenFile(dir, path string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	return f, nil
}
