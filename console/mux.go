package console

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// DefaultBufferSize is the ring kept when lxc.console.buffer.size is not
// set (LXC's "auto").
const DefaultBufferSize = 128 << 10

// clientQueue bounds what is queued for one attached client. A client that
// falls this far behind loses output (it is still in the log file and the
// ring); the container is never slowed down by it.
const clientQueue = 1 << 20

var (
	// ErrBusy is returned when another client is attached to the same
	// terminal. The policy is LXC's: one client per terminal, a second one
	// is refused (it never sees or types into the first one's session).
	ErrBusy = errors.New("console is in use by another client")
	// ErrClosed is returned once the Mux has been closed.
	ErrClosed = errors.New("console closed")
)

// Mux is the host side of one container terminal (its /dev/console or one
// /dev/ttyN). One goroutine reads the pty master for the Mux's whole life,
// so the container never blocks on a full terminal: everything it prints
// goes to the ring, to the log file when one is configured, and to the
// attached client if there is one and it keeps up.
//
// The Mux holds its own descriptor of the slave, so the master does not
// see a hang-up while the container restarts; the same Mux (and pty) can
// serve every boot of the container, each boot on a fresh slave from
// NewSlave (an init may hang up its terminals when it shuts down, as
// systemd does, and a hung-up descriptor is dead for good).
type Mux struct {
	name   string
	master *os.File
	peer   *os.File
	log    *logFile
	logger *slog.Logger
	// initial are the terminal's settings when the pty was allocated;
	// NewSlave restores them for every boot.
	initial unix.Termios

	mu      sync.Mutex
	ring    *ring
	client  *Session
	claimed bool
	closed  bool
	logErr  bool // a log write error was already reported

	done chan struct{} // closed when the reader has stopped
}

// NewMux takes ownership of master (from NewPty; a blocking file is made
// pollable) and starts reading it. name is the container's name, for
// messages. cfg is the container's lxc.console.*: Logfile (may be empty),
// Size and Rotate for the log, BufferSize for the ring (0: DefaultBufferSize).
// The log file is opened (created 0600, appended to) now, so a bad path is
// reported before the container boots.
func NewMux(name string, master *os.File, cfg config.Console) (*Mux, error) {
	m := &Mux{
		name:   name,
		logger: slog.Default().With("container", name, "console", master.Name()),
		done:   make(chan struct{}),
	}
	size := cfg.BufferSize
	if size <= 0 {
		size = DefaultBufferSize
	}
	m.ring = newRing(int(size))
	var err error
	if m.master, err = pollable(master); err != nil {
		return nil, fmt.Errorf("console %s: %w", name, err)
	}
	if m.peer, err = openPeer(m.master); err != nil {
		m.master.Close()
		return nil, fmt.Errorf("console %s: %w", name, err)
	}
	t, err := unix.IoctlGetTermios(int(m.peer.Fd()), unix.TCGETS)
	if err != nil {
		m.peer.Close()
		m.master.Close()
		return nil, fmt.Errorf("console %s: settings of %s: %w", name, m.peer.Name(), err)
	}
	m.initial = *t
	if cfg.Logfile != "" {
		if m.log, err = openLogFile(cfg.Logfile, cfg.Size, cfg.Rotate); err != nil {
			m.peer.Close()
			m.master.Close()
			return nil, fmt.Errorf("console %s: %s: %w", name, posOr(cfg.Pos, "lxc.console.logfile"), err)
		}
	}
	go m.read()
	return m, nil
}

// posOr names key where it was set; Console.Pos may be another console
// key's position, in which case only the file is named.
func posOr(p config.Pos, key string) string {
	switch {
	case p.File == "":
		return key
	case p.Key != key:
		return fmt.Sprintf("%s: %s", p.File, key)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, key)
}

// pollable returns f if Go's poller manages it, or a non-blocking,
// pollable duplicate (closing f) otherwise, so that Close interrupts Read.
func pollable(f *os.File) (*os.File, error) {
	if err := f.SetReadDeadline(time.Time{}); err == nil {
		return f, nil
	}
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("dup %s: %w", f.Name(), err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("set %s non-blocking: %w", f.Name(), err)
	}
	nf := os.NewFile(uintptr(fd), f.Name())
	f.Close()
	return nf, nil
}

// read is the Mux's single reader.
func (m *Mux) read() {
	defer close(m.done)
	// A pty hands over at most a few kB per read; a larger buffer per
	// terminal (six with LXC's busybox template) would only sit in the
	// shim's private memory.
	buf := make([]byte, 4<<10)
	for {
		n, err := m.master.Read(buf)
		if n > 0 {
			m.dispatch(buf[:n])
		}
		if err == nil {
			continue
		}
		m.mu.Lock()
		closed := m.closed
		m.mu.Unlock()
		if closed || errors.Is(err, os.ErrClosed) {
			return
		}
		// EIO: every slave descriptor was closed (ours too, e.g. by a
		// hang-up). Open another one and go on; anything else is
		// unexpected and is retried after a pause rather than spinning.
		m.logger.Debug("console read", "err", err)
		if errors.Is(err, syscall.EIO) {
			if p, perr := openPeer(m.master); perr == nil {
				m.mu.Lock()
				old := m.peer
				m.peer = p
				m.mu.Unlock()
				old.Close()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *Mux) dispatch(p []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring.Write(p)
	if m.log != nil {
		if err := m.log.Write(p); err != nil && !m.logErr {
			m.logErr = true
			m.logger.Error("console log", "err", err)
		} else if err == nil {
			m.logErr = false
		}
	}
	if m.client != nil {
		m.client.enqueue(p)
	}
}

// NewSlave prepares the terminal for a new boot and returns a fresh
// descriptor of its slave, for the boot's init (the caller closes it once
// the init has its copy).
//
// Whatever the previous boot did to the terminal is undone first: the
// Mux's own slave descriptor, hung up by a vhangup(2) or TIOCVHANGUP
// (systemd does both when it shuts down), is replaced; the settings
// (termios: echo, raw mode, line discipline flags) and any locked settings
// go back to what they were when the pty was allocated; unread input is
// discarded, so keystrokes meant for the old boot's getty do not reach
// the new boot. The master, the ring, the log and an attached client stay:
// the client goes on seeing the new boot's output.
func (m *Mux) NewSlave() (*os.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("console %s: %w", m.name, ErrClosed)
	}
	peer, err := openPeer(m.master)
	if err != nil {
		return nil, fmt.Errorf("console %s: %w", m.name, err)
	}
	if err := resetTerminal(peer, &m.initial); err != nil {
		peer.Close()
		return nil, fmt.Errorf("console %s: %w", m.name, err)
	}
	slave, err := openPeer(m.master)
	if err != nil {
		peer.Close()
		return nil, fmt.Errorf("console %s: %w", m.name, err)
	}
	old := m.peer
	m.peer = peer
	old.Close()
	return slave, nil
}

// Buffer returns what the ring holds: the last output of the terminal,
// oldest first.
func (m *Mux) Buffer() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ring.Bytes()
}

// Resize sets the terminal's window size; the container's foreground
// process group gets SIGWINCH.
func (m *Mux) Resize(rows, cols int) error {
	if err := SetSize(m.master, rows, cols); err != nil {
		return fmt.Errorf("console %s: %w", m.name, err)
	}
	return nil
}

// Claim reserves the terminal for one client: ErrBusy when another client
// holds it, ErrClosed after Close. The control socket claims first, then
// answers the request, then calls Serve, so a refused client gets a proper
// error reply instead of a silently closed stream. A claim that is not
// served must be given back with Release.
func (m *Mux) Claim() (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Bare sentinels: the control socket prefixes the container's name.
	if m.closed {
		return nil, ErrClosed
	}
	if m.claimed {
		return nil, ErrBusy
	}
	m.claimed = true
	return &Session{m: m, wake: make(chan struct{}, 1)}, nil
}

// Serve is Claim followed by (*Session).Serve.
func (m *Mux) Serve(conn net.Conn) error {
	s, err := m.Claim()
	if err != nil {
		return err
	}
	return s.Serve(conn)
}

// Close stops the reader, disconnects the client, and closes the master,
// the Mux's slave descriptor and the log file. It is safe to call twice.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.done
		return nil
	}
	m.closed = true
	c := m.client
	m.mu.Unlock()
	if c != nil {
		c.interrupt()
	}
	err := m.master.Close()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peer.Close()
	if m.log != nil {
		if lerr := m.log.Close(); err == nil {
			err = lerr
		}
	}
	return err
}

// Session is one client's hold on a Mux (see Claim).
type Session struct {
	m    *Mux
	wake chan struct{}

	mu      sync.Mutex // guards the fields below
	queue   []byte
	dropped int64
	conn    net.Conn
	ended   bool
	served  bool
}

// Serve copies the terminal's output to conn and conn's bytes to the
// terminal until the client goes away (conn reaches EOF or fails) or the
// Mux is closed. It does not close conn. It returns nil when the client
// left, ErrClosed when the Mux was closed under it.
func (s *Session) Serve(conn net.Conn) error {
	m := s.m
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return errors.New("console session served twice")
	}
	s.served, s.conn = true, conn
	s.mu.Unlock()

	m.mu.Lock()
	if m.closed {
		m.claimed = false
		m.mu.Unlock()
		return fmt.Errorf("console %s: %w", m.name, ErrClosed)
	}
	m.client = s
	m.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.write(conn)
	}()

	// Client to terminal. A full terminal input queue blocks only this
	// loop; the reader goes on. A plain loop rather than io.Copy: conn's
	// own Read must be used (a wrapper may hold bytes already buffered),
	// never a zero-copy path of the type it embeds.
	err := copyIn(m.master, conn)

	m.mu.Lock()
	m.client = nil
	m.claimed = false
	closed := m.closed
	m.mu.Unlock()
	s.end()
	// Unblock a writer stuck on a client that stopped reading.
	conn.SetWriteDeadline(time.Now())
	<-writerDone
	conn.SetWriteDeadline(time.Time{})
	if s.dropped > 0 {
		m.logger.Warn("console client too slow, output dropped", "bytes", s.dropped)
	}
	if closed {
		return fmt.Errorf("console %s: %w", m.name, ErrClosed)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("console %s: %w", m.name, err)
	}
	return nil
}

// Release gives back a claim that was not served.
func (s *Session) Release() {
	s.mu.Lock()
	served := s.served
	s.served = true
	s.mu.Unlock()
	if served {
		return
	}
	s.m.mu.Lock()
	s.m.claimed = false
	s.m.mu.Unlock()
}

// enqueue is called by the reader, with the Mux locked; it never blocks.
func (s *Session) enqueue(p []byte) {
	s.mu.Lock()
	room := clientQueue - len(s.queue)
	if room < len(p) {
		s.dropped += int64(len(p) - room)
		p = p[:max(room, 0)]
	}
	s.queue = append(s.queue, p...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Session) write(conn net.Conn) {
	for {
		s.mu.Lock()
		q, ended := s.queue, s.ended
		s.queue = nil
		s.mu.Unlock()
		if len(q) > 0 {
			if _, err := conn.Write(q); err != nil {
				return
			}
			continue
		}
		if ended {
			return
		}
		<-s.wake
	}
}

func (s *Session) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// interrupt makes Serve return (the Mux is closing).
func (s *Session) interrupt() {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.SetReadDeadline(time.Now())
	}
}

func copyIn(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
