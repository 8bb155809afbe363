package supervise

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"

	"golang.org/x/sys/unix"
)

// Listen creates the control socket at path (mode 0600), replacing a stale
// one left by a dead shim. The caller must hold the shim's lock.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	// The umask keeps the socket private from its creation on; the chmod
	// makes sure of it whatever the umask was.
	old := unix.Umask(0o077)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return l, nil
}

// Serve answers control connections on l until the shim's Run returns,
// then closes l and removes the socket file. Call it in its own goroutine
// after setting the Shim's fields, once for each listener (the socket file
// and the abstract name, see ListenAbstract).
func (s *Shim) Serve(l *net.UnixListener) {
	s.init()
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	ended := s.ended
	s.mu.Unlock()
	if ended {
		l.SetUnlinkOnClose(true)
		l.Close()
		return
	}
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.Log.Warn("control accept", "err", err)
			continue
		}
		go s.handle(c)
	}
}

func (s *Shim) handle(c *net.UnixConn) {
	defer c.Close()
	enc := json.NewEncoder(c)
	// Only root of the host's PID namespace may talk to the shim,
	// whatever the socket's mode: the abstract name has no mode, and a
	// container that shares the host's network namespace can reach it.
	if err := shimctl.HostPeer(c); err != nil {
		_ = enc.Encode(shimctl.Response{Error: err.Error()})
		return
	}
	// A client that never says what it wants must not hold a goroutine
	// for ever.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var req shimctl.Request
	if err := json.Unmarshal(line, &req); err != nil {
		_ = enc.Encode(shimctl.Response{Error: "bad request: " + err.Error()})
		return
	}
	if req.Expired(time.Now()) {
		// The shim was stopped or stuck while the request waited: its
		// client has given up (and may have stopped the container
		// itself). Acting now would be a change nobody waits for.
		s.Log.Warn("control request expired before it was read", "op", req.Op)
		_ = enc.Encode(shimctl.Response{Error: req.Op + ": the request expired before the shim read it"})
		return
	}
	switch req.Op {
	case shimctl.OpStatus:
		st := s.snapshot()
		_ = enc.Encode(shimctl.Response{OK: true, Status: &st})
	case shimctl.OpEvents:
		s.serveEvents(c, enc)
	case shimctl.OpCgroup, shimctl.OpInfo, shimctl.OpDevice:
		_ = enc.Encode(s.operate(req))
	case shimctl.OpStop, shimctl.OpReboot, shimctl.OpFreeze, shimctl.OpUnfreeze:
		reply := make(chan shimctl.Response, 1)
		ack := make(chan struct{})
		written := sync.OnceFunc(func() { close(ack) })
		defer written()
		select {
		case s.reqc <- ctlReq{req: req, reply: reply, ack: ack}:
		case <-s.done:
			_ = enc.Encode(shimctl.Response{OK: true, Result: shimctl.StopNotRunning})
			return
		}
		var resp shimctl.Response
		select {
		case resp = <-reply:
		case <-s.done:
			// finish() fills reply before the shim closes done, so both
			// can be ready at once and select picks at random: an answer
			// that is there wins.
			select {
			case resp = <-reply:
			default:
				// The container ended on its own while the request was
				// in flight (it halted): for a stop, that is success.
				resp = shimctl.Response{OK: req.Op == shimctl.OpStop, Result: shimctl.StopNotRunning}
				if req.Op != shimctl.OpStop {
					resp.Error = "container ended"
				}
			}
		}
		_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_ = enc.Encode(resp)
		_ = c.SetWriteDeadline(time.Time{})
		written()
		if req.Op == shimctl.OpStop && resp.OK {
			// Keep the connection until the shim is gone, so that the
			// client's "stopped" means a new start will not find it.
			<-s.done
		}
	case shimctl.OpResize:
		if s.Consoles == nil {
			_ = enc.Encode(shimctl.Response{Error: "resize: the container has no console"})
			return
		}
		if err := s.Consoles.Resize(req); err != nil {
			_ = enc.Encode(shimctl.Response{Error: "resize: " + err.Error()})
			return
		}
		_ = enc.Encode(shimctl.Response{OK: true})
	case shimctl.OpConsole:
		if st := s.snapshot(); st.State.Final() || s.Consoles == nil {
			_ = enc.Encode(shimctl.Response{Error: "console: container is not running or has no console"})
			return
		}
		// The reader may hold bytes the client sent after its request
		// line (keys typed at once): hand them on with the connection.
		conn := net.Conn(c)
		if br.Buffered() > 0 {
			conn = &shimctl.BufferedConn{UnixConn: c, R: br}
		}
		if err := s.Consoles.ServeConsole(conn, req); err != nil {
			// ServeConsole answers {"ok":true} itself once it accepted
			// the client; an error before that is the client's answer.
			_ = enc.Encode(shimctl.Response{Error: "console: " + err.Error()})
		}
	default:
		_ = enc.Encode(shimctl.Response{Error: fmt.Sprintf("unknown op %q", req.Op)})
	}
}
