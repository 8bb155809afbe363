package console

import (
	"fmt"
	"os"
)

// logFile is lxc.console.logfile with LXC's size handling: with a size
// limit, a write that would take the file past it first rotates the file to
// PATH.1 (lxc.console.rotate = 1; one old file is kept, as in LXC) or
// truncates it (rotate = 0). A single write larger than the limit keeps
// only its last Size bytes, so the file never exceeds the limit.
type logFile struct {
	path   string
	f      *os.File
	cur    int64
	max    int64
	rotate bool
}

func openLogFile(path string, max int64, rotate bool) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{path: path, f: f, cur: st.Size(), max: max, rotate: rotate}, nil
}

func (l *logFile) Write(p []byte) error {
	if l.max > 0 {
		if int64(len(p)) > l.max {
			p = p[int64(len(p))-l.max:]
		}
		if l.cur+int64(len(p)) > l.max {
			if err := l.cut(); err != nil {
				return err
			}
		}
	}
	n, err := l.f.Write(p)
	l.cur += int64(n)
	if err != nil {
		return fmt.Errorf("write %s: %w", l.path, err)
	}
	return nil
}

// cut starts the file afresh: rotated to PATH.1 or truncated.
func (l *logFile) cut() error {
	if !l.rotate {
		if err := l.f.Truncate(0); err != nil {
			return fmt.Errorf("truncate %s: %w", l.path, err)
		}
		l.cur = 0
		return nil
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("rotate %s: %w", l.path, err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", l.path, err)
	}
	l.f.Close()
	l.f, l.cur = f, 0
	return nil
}

func (l *logFile) Close() error { return l.f.Close() }
