package shimctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/lxc-shim/lxc-shim/cgroup"
)

// ErrNoShim means no shim answers for the container: it is not running
// under a shim (it may still run orphaned; see Inspect).
var ErrNoShim = errors.New("no shim is running")

// ErrNotResponding means a shim holds the container's lock and socket but
// did not answer within the request's deadline: it is stopped (SIGSTOP),
// deadlocked or stuck in the kernel. Callers fall back to what the state
// directory and /proc say, as for a dead shim.
var ErrNotResponding = errors.New("shim not responding")

// errClosedEarly: the shim closed the connection before its answer.
var errClosedEarly = errors.New("shim closed the control connection")

// DefaultTimeout bounds a request whose context has no deadline: the
// connect, the request and the first answer line. A shim answers from its
// control goroutines, which never wait for the container, so a healthy
// one answers in milliseconds even on a loaded machine.
const DefaultTimeout = 3 * time.Second

// InspectTimeout is how long Inspect (status, list) waits for the shim
// before it answers from state.json and /proc.
const InspectTimeout = 1500 * time.Millisecond

// longAgo is a deadline in the past: setting it wakes every blocked read
// and write of a connection.
var longAgo = time.Unix(1, 0)

// Client talks to one container's shim over its control socket. Every
// request takes a context: its deadline (DefaultTimeout when it has none)
// bounds the connect, the request and the wait for the answer, and
// cancelling it ends a blocked request at once. A request that runs out
// of time fails with an error satisfying errors.Is(err,
// ErrNotResponding).
type Client struct {
	Name  string
	Paths Paths
}

// NewClient returns a client for container name under rundir.
func NewClient(rundir, name string) *Client {
	return &Client{Name: name, Paths: PathsFor(rundir, name)}
}

// connect reaches the shim: through the socket file while a shim holds
// the lock file, else (RUNDIR/NAME was removed under it) through the
// abstract name, whose holder must be root of this PID namespace. The
// connect itself is bounded by ctx: a stuck shim's full listen backlog
// would block a plain connect(2).
func (c *Client) connect(ctx context.Context) (*net.UnixConn, error) {
	var d net.Dialer
	if LockHeld(c.Paths.Lock) {
		conn, err := d.DialContext(ctx, "unix", c.Paths.Socket)
		if err == nil {
			return conn.(*net.UnixConn), nil
		}
		if ctx.Err() != nil {
			return nil, c.notResponding(ctx, err)
		}
	}
	conn, err := d.DialContext(ctx, "unix", c.Paths.Abstract)
	if err != nil {
		if ctx.Err() != nil {
			return nil, c.notResponding(ctx, err)
		}
		return nil, fmt.Errorf("%s: %w (%v)", c.Name, ErrNoShim, err)
	}
	uc := conn.(*net.UnixConn)
	if err := HostPeer(uc); err != nil {
		uc.Close()
		return nil, fmt.Errorf("%s: %w: %s is not held by a shim: %v", c.Name, ErrNoShim, c.Paths.Abstract, err)
	}
	return uc, nil
}

// notResponding is the error of a request that ran out of time, naming
// the shim's pid as state.json records it.
func (c *Client) notResponding(ctx context.Context, err error) error {
	pid := ""
	if st, serr := ReadState(c.Paths.State); serr == nil && st.ShimPid > 0 {
		pid = fmt.Sprintf(" (pid %d)", st.ShimPid)
	}
	if cerr := context.Cause(ctx); cerr != nil && !errors.Is(cerr, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w%s: %v", c.Name, ErrNotResponding, pid, cerr)
	}
	return fmt.Errorf("%s: %w%s: no answer in time (%v)", c.Name, ErrNotResponding, pid, err)
}

// withDeadline is ctx with DefaultTimeout when it has no deadline.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// session is one request's connection under its context: its deadline is
// the connection's, and cancelling the context wakes whatever blocks on
// the connection. release ends the watch (the connection stays open).
type session struct {
	conn    *net.UnixConn
	br      *bufio.Reader
	release func()
}

// dial connects within ctx and sends req; it returns the first answer
// and, when it says ok, the session whose connection carries the rest (the
// caller closes it and calls release). The connection keeps ctx's deadline
// until the caller clears it (a console outlives its request).
func (c *Client) dial(ctx context.Context, req Request) (*session, Response, error) {
	ctx, cancel := withDeadline(ctx)
	conn, err := c.connect(ctx)
	if err != nil {
		cancel()
		return nil, Response{}, err
	}
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(longAgo) })
	release := func() { stop(); cancel() }
	fail := func(err error) (*session, Response, error) {
		release()
		conn.Close()
		return nil, Response{}, err
	}
	req.NotAfter = dl.UnixNano()
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fail(c.notResponding(ctx, err))
		}
		return fail(fmt.Errorf("%s: control socket: %w", c.Name, err))
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fail(c.notResponding(ctx, err))
		case errors.Is(err, io.EOF):
			return fail(fmt.Errorf("%s: %w", c.Name, errClosedEarly))
		}
		return fail(fmt.Errorf("%s: control socket: %w", c.Name, err))
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fail(fmt.Errorf("%s: control socket: bad answer: %w", c.Name, err))
	}
	if !resp.OK {
		release()
		conn.Close()
		return nil, resp, fmt.Errorf("%s: %s", c.Name, resp.Error)
	}
	return &session{conn: conn, br: br, release: release}, resp, nil
}

// close ends the session's watch and its connection.
func (s *session) close() {
	s.release()
	s.conn.Close()
}

// request sends req and returns the shim's one answer.
func (c *Client) request(ctx context.Context, req Request) (Response, error) {
	s, resp, err := c.dial(ctx, req)
	if err != nil {
		return resp, err
	}
	s.close()
	return resp, nil
}

// Status asks the shim for the container's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	resp, err := c.request(ctx, Request{Op: OpStatus})
	if err != nil {
		return nil, err
	}
	return resp.Status, nil
}

// Stop asks the shim to stop the container: the halt signal, up to timeout
// (negative: the shim's default) for the init to end, then the kill. With
// kill, no grace period. It returns the result (graceful, forced, not
// running) once the shim is gone. The shim answers only once the
// container is down, so ctx must leave room for the whole stop (timeout
// and the teardown); when it runs out first, the error satisfies
// errors.Is(err, ErrNotResponding).
func (c *Client) Stop(ctx context.Context, timeout time.Duration, kill bool) (Response, error) {
	req := Request{Op: OpStop, Kill: kill}
	if timeout >= 0 {
		secs := timeout.Seconds()
		req.Timeout = &secs
	}
	s, resp, err := c.dial(ctx, req)
	if errors.Is(err, errClosedEarly) {
		// The shim went away before answering: if it recorded the end
		// of a stop, that is the answer.
		if st, serr := ReadState(c.Paths.State); serr == nil && st.State.Final() && st.StopResult != "" {
			return Response{OK: true, Result: st.StopResult}, nil
		}
	}
	if err != nil {
		return resp, err
	}
	defer s.close()
	// The shim closes the connection when it exits, after its lock is
	// released; the deadline still holds for that wait.
	if _, err := io.Copy(io.Discard, s.br); errors.Is(err, os.ErrDeadlineExceeded) {
		return resp, fmt.Errorf("%s: stopped (%s), but the shim did not exit: %w", c.Name, resp.Result, ErrNotResponding)
	}
	return resp, nil
}

// Reboot asks the shim to send lxc.signal.reboot to the init.
func (c *Client) Reboot(ctx context.Context) (Response, error) {
	return c.request(ctx, Request{Op: OpReboot})
}

// Console asks for the console of tty (0: /dev/console) and returns the
// connection, which from then on carries the console multiplexer's stream
// (package console's Attach drives it) and has no deadline any more: ctx
// bounds the request only. Bytes the reader already buffered stay
// readable through the returned connection.
func (c *Client) Console(ctx context.Context, tty int, rows, cols uint16) (net.Conn, error) {
	s, _, err := c.dial(ctx, Request{Op: OpConsole, TTY: tty, Rows: rows, Cols: cols})
	if err != nil {
		return nil, err
	}
	s.release()
	_ = s.conn.SetDeadline(time.Time{})
	if s.br.Buffered() > 0 {
		return &BufferedConn{UnixConn: s.conn, R: s.br}, nil
	}
	return s.conn, nil
}

// Inspect tells what is known of a container without a config: the shim's
// live status when a shim runs, else state.json checked against /proc
// (InitAlive says whether the recorded init still runs orphaned). It
// returns an error satisfying errors.Is(err, fs.ErrNotExist) when there is
// no state at all.
//
// A shim that does not answer within InspectTimeout does not hold the
// answer up: the status then comes from state.json and /proc as for a dead
// shim, with ShimNotResponding set, and Running follows the init that
// /proc shows rather than the state the stuck shim last recorded.
func Inspect(rundir, name string) (*Status, error) {
	c := NewClient(rundir, name)
	ctx, cancel := context.WithTimeout(context.Background(), InspectTimeout)
	defer cancel()
	live, err := c.Status(ctx)
	if err == nil {
		return live, nil
	}
	stuck := errors.Is(err, ErrNotResponding)
	st, err := ReadState(c.Paths.State)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no state in %s: %w", name, c.Paths.Dir, fs.ErrNotExist)
		}
		return nil, err
	}
	st.ShimAlive = LockHeld(c.Paths.Lock)
	st.ShimNotResponding = stuck && st.ShimAlive
	// A pid that is not the init of a PID namespace of its own, in the
	// cgroup that the run's record proves the container's, is not the
	// container's init, whatever state.json says.
	st.InitAlive = st.Pid > 0 && SameProcess(st.Pid, st.PidStart) && initOfOwnPidns(st.Pid) &&
		cgroup.InRecorded(name, c.Paths.Dir, st.Pid)
	return st, nil
}

// Running reports whether the container has a live init (under its shim
// or orphaned).
func (st *Status) Running() bool {
	if st.ShimAlive && !st.ShimNotResponding {
		return !st.State.Final()
	}
	return st.InitAlive
}

// Resize sets the window size of an attached console (tty 0:
// /dev/console).
func (c *Client) Resize(ctx context.Context, tty int, rows, cols uint16) error {
	_, err := c.request(ctx, Request{Op: OpResize, TTY: tty, Rows: rows, Cols: cols})
	return err
}

// BufferedConn is a connection whose first bytes are already buffered in
// R (the JSON answer was read through it): reads go through R.
type BufferedConn struct {
	*net.UnixConn
	R *bufio.Reader
}

func (b *BufferedConn) Read(p []byte) (int, error) { return b.R.Read(p) }
