package shimctl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"time"

	"github.com/lxc-shim/lxc-shim/cgroup"
)

// ErrNoShim means no shim answers for the container: it is not running
// under a shim (it may still run orphaned; see Inspect).
var ErrNoShim = errors.New("no shim is running")

// errClosedEarly: the shim closed the connection before its answer.
var errClosedEarly = errors.New("shim closed the control connection")

// Client talks to one container's shim over its control socket.
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
// abstract name, whose holder must be root of this PID namespace.
func (c *Client) connect() (*net.UnixConn, error) {
	if LockHeld(c.Paths.Lock) {
		if conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: c.Paths.Socket, Net: "unix"}); err == nil {
			return conn, nil
		}
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: c.Paths.Abstract, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", c.Name, ErrNoShim, err)
	}
	if err := HostPeer(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w: %s is not held by a shim: %v", c.Name, ErrNoShim, c.Paths.Abstract, err)
	}
	return conn, nil
}

// dial connects and sends req; the caller reads the answers.
func (c *Client) dial(req Request) (*net.UnixConn, *bufio.Reader, Response, error) {
	conn, err := c.connect()
	if err != nil {
		return nil, nil, Response{}, err
	}
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, nil, Response{}, fmt.Errorf("%s: control socket: %w", c.Name, err)
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		if errors.Is(err, io.EOF) {
			return nil, nil, Response{}, fmt.Errorf("%s: %w", c.Name, errClosedEarly)
		}
		return nil, nil, Response{}, fmt.Errorf("%s: control socket: %w", c.Name, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		conn.Close()
		return nil, nil, Response{}, fmt.Errorf("%s: control socket: bad answer: %w", c.Name, err)
	}
	if !resp.OK {
		conn.Close()
		return nil, nil, resp, fmt.Errorf("%s: %s", c.Name, resp.Error)
	}
	return conn, br, resp, nil
}

// Status asks the shim for the container's status.
func (c *Client) Status() (*Status, error) {
	conn, _, resp, err := c.dial(Request{Op: OpStatus})
	if err != nil {
		return nil, err
	}
	conn.Close()
	return resp.Status, nil
}

// Stop asks the shim to stop the container: the halt signal, up to timeout
// (negative: the shim's default) for the init to end, then the kill. With
// kill, no grace period. It returns the result (graceful, forced, not
// running) once the shim is gone.
func (c *Client) Stop(timeout time.Duration, kill bool) (Response, error) {
	req := Request{Op: OpStop, Kill: kill}
	if timeout >= 0 {
		secs := timeout.Seconds()
		req.Timeout = &secs
	}
	conn, br, resp, err := c.dial(req)
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
	defer conn.Close()
	// The shim closes the connection when it exits, after its lock is
	// released.
	_, _ = io.Copy(io.Discard, br)
	return resp, nil
}

// Reboot asks the shim to send lxc.signal.reboot to the init.
func (c *Client) Reboot() (Response, error) {
	conn, _, resp, err := c.dial(Request{Op: OpReboot})
	if err != nil {
		return resp, err
	}
	conn.Close()
	return resp, nil
}

// Console asks for the console of tty (0: /dev/console) and returns the
// connection, which from then on carries the console multiplexer's stream
// (package console's Attach drives it). Bytes the reader already buffered
// stay readable through the returned connection.
func (c *Client) Console(tty int, rows, cols uint16) (net.Conn, error) {
	conn, br, _, err := c.dial(Request{Op: OpConsole, TTY: tty, Rows: rows, Cols: cols})
	if err != nil {
		return nil, err
	}
	if br.Buffered() > 0 {
		return &BufferedConn{UnixConn: conn, R: br}, nil
	}
	return conn, nil
}

// Inspect tells what is known of a container without a config: the shim's
// live status when a shim runs, else state.json checked against /proc
// (InitAlive says whether the recorded init still runs orphaned). It
// returns an error satisfying errors.Is(err, fs.ErrNotExist) when there is
// no state at all.
func Inspect(rundir, name string) (*Status, error) {
	c := NewClient(rundir, name)
	if st, err := c.Status(); err == nil {
		return st, nil
	}
	st, err := ReadState(c.Paths.State)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no state in %s: %w", name, c.Paths.Dir, fs.ErrNotExist)
		}
		return nil, err
	}
	st.ShimAlive = LockHeld(c.Paths.Lock)
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
	if st.ShimAlive {
		return !st.State.Final()
	}
	return st.InitAlive
}

// Resize sets the window size of an attached console (tty 0:
// /dev/console).
func (c *Client) Resize(tty int, rows, cols uint16) error {
	conn, _, _, err := c.dial(Request{Op: OpResize, TTY: tty, Rows: rows, Cols: cols})
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

// BufferedConn is a connection whose first bytes are already buffered in
// R (the JSON answer was read through it): reads go through R.
type BufferedConn struct {
	*net.UnixConn
	R *bufio.Reader
}

func (b *BufferedConn) Read(p []byte) (int, error) { return b.R.Read(p) }
