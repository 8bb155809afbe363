package console

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/term"
)

// DefaultEscape is Ctrl-a, LXC's escape prefix: Ctrl-a q detaches,
// Ctrl-a Ctrl-a types one Ctrl-a.
const DefaultEscape byte = 0x01

// ErrRemoteClosed is returned by Attach when the other end closed the
// connection (the shim stopped serving the terminal, e.g. the container
// stopped), as opposed to the user detaching.
var ErrRemoteClosed = errors.New("console connection closed by the container's shim")

// ParseEscape reads an --escape value: a letter ("a", meaning Ctrl-a, as
// lxc-console -e takes it), "^a", "C-a" or "ctrl-a". Ctrl-a through Ctrl-z
// and Ctrl-[ \ ] ^ _ are accepted.
func ParseEscape(s string) (byte, error) {
	t := strings.ToLower(s)
	for _, p := range []string{"ctrl-", "ctrl+", "c-", "^"} {
		if strings.HasPrefix(t, p) && len(t) > len(p) {
			t = t[len(p):]
			break
		}
	}
	if len(t) == 1 {
		c := t[0]
		switch {
		case c >= 'a' && c <= 'z':
			return c - 'a' + 1, nil
		case c >= '[' && c <= '_':
			return c - '@', nil
		}
	}
	return 0, fmt.Errorf("invalid escape %q: want a letter such as \"a\" for Ctrl-a", s)
}

// EscapeName renders an escape byte as "Ctrl+a".
func EscapeName(b byte) string {
	if b >= 1 && b <= 26 {
		return "Ctrl+" + string(rune('a'+b-1))
	}
	return "Ctrl+" + string(rune(b+'@'))
}

// escaper finds the detach sequence (escape, 'q') in the client's input.
// escape followed by escape sends one escape; escape followed by anything
// else sends both. The state survives across reads, so a sequence split
// over two reads is still seen.
type escaper struct {
	escape  byte
	pending bool
}

// feed returns the bytes to send and whether the user asked to detach (the
// bytes before the sequence are still sent; nothing after it).
func (e *escaper) feed(p []byte) (out []byte, detach bool) {
	if e.escape == 0 {
		return p, false
	}
	out = make([]byte, 0, len(p)+1)
	for _, b := range p {
		if e.pending {
			e.pending = false
			switch b {
			case 'q', 'Q':
				return out, true
			case e.escape:
				out = append(out, b)
			default:
				out = append(out, e.escape, b)
			}
			continue
		}
		if b == e.escape {
			e.pending = true
			continue
		}
		out = append(out, b)
	}
	return out, false
}

// Attach connects the user's terminal to a container terminal carried by
// conn (a console connection of the control socket, or a pty master).
//
// When in is a terminal it is put in raw mode for the duration (restored on
// return), so every key, Ctrl-c included, goes to the container. resize,
// when not nil, is called with out's window size at the start and on every
// SIGWINCH. escape is the detach prefix (DefaultEscape; 0 disables
// detaching): escape q returns nil and leaves the container untouched.
// Attach also returns nil when in reaches end of file, and ErrRemoteClosed
// when conn does.
//
// The caller closes conn. A read of in that is in progress cannot be
// interrupted and is abandoned; Attach never writes to out after it
// returned.
func Attach(conn io.ReadWriter, in *os.File, out *os.File, escape byte, resize func(rows, cols int) error) error {
	if fd := int(in.Fd()); term.IsTerminal(fd) {
		state, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("raw mode on %s: %w", in.Name(), err)
		}
		defer term.Restore(fd, state)
	}

	if resize != nil {
		sizeFrom := out
		if !term.IsTerminal(int(sizeFrom.Fd())) {
			sizeFrom = in
		}
		if term.IsTerminal(int(sizeFrom.Fd())) {
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, syscall.SIGWINCH)
			defer signal.Stop(winch)
			stop := make(chan struct{})
			defer close(stop)
			sendSize := func() {
				if rows, cols, err := Size(sizeFrom); err == nil && rows > 0 && cols > 0 {
					resize(rows, cols)
				}
			}
			sendSize()
			go func() {
				for {
					select {
					case <-winch:
						sendSize()
					case <-stop:
						return
					}
				}
			}()
		}
	}

	var stopped atomic.Bool
	var outMu sync.Mutex // held while writing out, so no write follows the return
	defer func() {
		outMu.Lock()
		stopped.Store(true)
		outMu.Unlock()
	}()

	result := make(chan error, 2)
	go func() { // container to user
		buf := make([]byte, 32<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				outMu.Lock()
				if stopped.Load() {
					outMu.Unlock()
					return
				}
				_, werr := out.Write(buf[:n])
				outMu.Unlock()
				if werr != nil {
					result <- fmt.Errorf("write %s: %w", out.Name(), werr)
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO) {
					result <- ErrRemoteClosed
				} else {
					result <- fmt.Errorf("console read: %w", err)
				}
				return
			}
		}
	}()
	go func() { // user to container
		esc := escaper{escape: escape}
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				send, detach := esc.feed(buf[:n])
				if len(send) > 0 {
					if _, werr := conn.Write(send); werr != nil {
						result <- ErrRemoteClosed
						return
					}
				}
				if detach {
					result <- nil
					return
				}
			}
			if err != nil {
				result <- nil // end of the user's input: detach
				return
			}
		}
	}()
	return <-result
}
