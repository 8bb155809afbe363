package supervise

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

// Live is what a run offers to operate it while it runs, as LXC's own
// verbs do (lxc-freeze, lxc-cgroup, lxc-info). The real run implements it;
// a request to a run that does not is refused.
type Live interface {
	// Freeze and Thaw return once the kernel reports the cgroup frozen
	// (thawed).
	Freeze() error
	Thaw() error
	// Cgroup reads (value "") or writes one setting; it returns the value
	// read, the key in the config's form (lxc.cgroup2.memory.max) and the
	// files read or written.
	Cgroup(key, value string) (v, configKey string, files []string, err error)
	// Usage fills what the run knows of info: addresses, cgroup
	// accounting, traffic.
	Usage(info *shimctl.Info) error
	// Device adds or removes a device node or network interface
	// (req.Action, Path, Dest); initStart is the init's start time, the
	// proof that its pid still names it. It says what it did.
	Device(req shimctl.Request, initStart uint64) (string, error)
}

// live is the current run as a Live, or an error saying why there is none.
func (s *Shim) live(op string) (Live, error) {
	s.mu.Lock()
	r, st := s.run, s.m.State()
	s.mu.Unlock()
	if r == nil || (st != shimctl.StateRunning && st != shimctl.StateFrozen) {
		return nil, fmt.Errorf("%s: container is not running (%s)", op, st)
	}
	l, ok := r.(Live)
	if !ok {
		return nil, fmt.Errorf("%s: not supported by this run", op)
	}
	return l, nil
}

// operate answers the requests that read or change a running container
// without changing its state (cgroup, info): they do not go through the
// event loop, so a slow read never holds up a stop.
func (s *Shim) operate(req shimctl.Request) shimctl.Response {
	l, err := s.live(req.Op)
	if err != nil {
		return shimctl.Response{Error: err.Error()}
	}
	switch req.Op {
	case shimctl.OpCgroup:
		v, key, files, err := l.Cgroup(req.Key, req.Value)
		if err != nil {
			return shimctl.Response{Error: err.Error()}
		}
		if req.Value != "" {
			s.Log.Info("cgroup setting changed", "key", req.Key, "value", req.Value, "files", files)
		}
		return shimctl.Response{OK: true, Value: v, Key: key, File: strings.Join(files, " ")}
	case shimctl.OpDevice:
		st := s.snapshot()
		what, err := l.Device(req, st.PidStart)
		if err != nil {
			return shimctl.Response{Error: err.Error()}
		}
		s.Log.Info("device "+req.Action, "path", req.Path, "done", what)
		return shimctl.Response{OK: true, Value: what}
	case shimctl.OpInfo:
		st := s.snapshot()
		info := &shimctl.Info{Name: s.Name, State: st.State, Pid: st.Pid, ShimPid: st.ShimPid, BootCount: st.BootCount}
		if !st.BootedAt.IsZero() {
			info.UptimeSeconds = time.Since(st.BootedAt).Seconds()
		}
		if err := l.Usage(info); err != nil {
			return shimctl.Response{Error: err.Error()}
		}
		return shimctl.Response{OK: true, Info: info}
	}
	return shimctl.Response{Error: "unknown op " + req.Op}
}

// eventBuffer is how many state changes a slow subscriber may fall
// behind before it is dropped (its connection closed, so it knows).
const eventBuffer = 64

// serveEvents streams the container's status to c: now, then after every
// state change, until the shim ends or the client goes away.
func (s *Shim) serveEvents(c *net.UnixConn, enc *json.Encoder) {
	ch := make(chan shimctl.Status, eventBuffer)
	s.mu.Lock()
	if s.ended {
		// Nothing changes any more: the final status, then EOF.
		s.mu.Unlock()
		st := s.snapshot()
		_ = enc.Encode(shimctl.Response{OK: true, Status: &st})
		return
	}
	if s.subs == nil {
		s.subs = map[chan shimctl.Status]struct{}{}
	}
	s.subs[ch] = struct{}{}
	// Run waits (briefly) for the subscribers to hand on the final state
	// before the shim exits.
	s.subsWG.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
		s.subsWG.Done()
	}()
	st := s.snapshot()
	if err := enc.Encode(shimctl.Response{OK: true, Status: &st}); err != nil {
		return
	}
	// The client sends nothing more: a read returns when it goes away.
	gone := make(chan struct{})
	go func() {
		var b [1]byte
		_, _ = c.Read(b[:])
		close(gone)
	}()
	send := func(st shimctl.Status) bool {
		_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		return enc.Encode(shimctl.Response{OK: true, Status: &st}) == nil
	}
	for {
		select {
		case st, ok := <-ch:
			if !ok || !send(st) {
				return
			}
		case <-gone:
			return
		case <-s.done:
			// The final state was published before done: hand on what
			// is still queued.
			for {
				select {
				case st, ok := <-ch:
					if !ok || !send(st) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// publish hands the status to every subscriber; the caller holds s.mu. A
// subscriber that fell eventBuffer changes behind is dropped rather than
// let hold up the shim.
func (s *Shim) publish() {
	if len(s.subs) == 0 {
		return
	}
	st := s.st
	st.ShimAlive = true
	st.InitAlive = st.Pid > 0
	for ch := range s.subs {
		select {
		case ch <- st:
		default:
			close(ch)
			delete(s.subs, ch)
		}
	}
}
