package container

import (
	"errors"
	"io"
	"strconv"

	"github.com/lxc-shim/lxc-shim/hook"
)

// hooks runs the config's hooks of one type from the stage, in the
// container's namespaces (its cgroup namespace too: this is the stage's
// locked thread). The stage reaps them (hook.StageForker); they get only
// stdin, stdout and stderr of the stage's descriptors, which are all
// close-on-exec. lxc.environment is theirs too, as in LXC's child.
func (s *stager) hooks(typ string) error {
	hs := s.cfg.HooksOf(typ)
	if len(hs) == 0 {
		return nil
	}
	err := hook.RunAll(hook.StageForker{}, s.cfg, typ, s.cfg.Environment, nil, s.p.HookTimeout, s.log)
	if err == nil {
		return nil
	}
	var he *hook.Error
	if errors.As(err, &he) {
		return &StageError{Step: "hook", Key: he.Key, Value: he.Cmd, Pos: he.Pos, Err: he.What + lastOutput(he.Output)}
	}
	return &StageError{Step: "hook", Key: "lxc.hook." + typ, Err: err.Error()}
}

func lastOutput(out string) string {
	if out == "" {
		return ""
	}
	return "; last output:\n" + out
}

// startHost tells the shim the start hooks are done and waits for its go
// once it ran the start-host hooks (a closed pipe: the shim gave up).
func (s *stager) startHost(report io.Writer) error {
	if s.ctl == nil {
		return nil
	}
	defer s.ctl.Close()
	if _, err := io.WriteString(report, startHostMarker); err != nil {
		return &StageError{Step: "start-host", Err: err.Error()}
	}
	var b [1]byte
	if n, _ := io.ReadFull(s.ctl, b[:]); n != 1 {
		return &StageError{Step: "start-host", Err: "the shim did not continue after lxc.hook.start-host (" + strconv.Quote(string(b[:n])) + ")"}
	}
	return nil
}
