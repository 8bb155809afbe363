package container

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/lxc-shim/lxc-shim/config"
	"golang.org/x/sys/unix"
)

// MaybeStage runs the stage when this process is one (StageEnv is set) and
// never returns then; otherwise it returns at once. cmd/lxc-shim calls it
// first thing in main, and test binaries in TestMain.
func MaybeStage() {
	if os.Getenv(StageEnv) == "" {
		return
	}
	// Every step up to exec runs on this thread: the cgroup namespace,
	// capabilities, personality and signal mask are per thread.
	runtime.LockOSThread()
	os.Exit(runStage())
}

// stager holds the state of one stage run.
type stager struct {
	p      *plan
	cfg    *config.Config
	log    *slog.Logger
	root   *rootfs
	hostCg []cgroupMount // the host's cgroup mounts, read before any mount
	umask  int
	ctl    *os.File // the control pipe, kept when the stage pauses for start-host
	labels labels   // LSM labels to set before exec, opened on the host's /proc
}

func runStage() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("stage", os.Getpid())
	// Nothing but stdio may reach the init: the report pipe in particular
	// must close on exec, which is what tells Release the exec succeeded.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		log.Error("close_range", "err", err)
		return 1
	}
	// The log keeps its own descriptor: stderr becomes the container's
	// console before the start hooks, whose output belongs in the log.
	if fd, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 3); err == nil {
		log = slog.New(slog.NewTextHandler(os.NewFile(uintptr(fd), "log"), nil)).With("stage", os.Getpid())
	}
	ctl := os.NewFile(fdCtl, "ctl")
	report := os.NewFile(fdReport, "report")
	p, err := readPlan(ctl)
	if err != nil {
		log.Error("read plan", "err", err)
		return 1
	}
	var b [1]byte
	if n, _ := io.ReadFull(ctl, b[:]); n != 1 {
		// The shim went away before releasing us: nothing to do.
		log.Info("not released; exiting")
		return 1
	}
	s := &stager{p: p, cfg: p.Config, log: log.With("container", p.Config.Name)}
	if p.StartHostPause {
		// Kept (close-on-exec) for the shim's go after start-host.
		s.ctl = ctl
	} else {
		ctl.Close()
	}
	// Positions do not travel in the config's JSON.
	for i := range s.cfg.Hooks {
		s.cfg.Hooks[i].Pos = p.Where["hook."+strconv.Itoa(i)]
	}
	err = s.run(report)
	var se *StageError
	if !errors.As(err, &se) {
		se = &StageError{Step: "stage", Err: err.Error()}
	}
	buf, _ := json.Marshal(se)
	_, _ = report.Write(buf)
	return 1
}

func readPlan(r io.Reader) (*plan, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	var p plan
	if err := json.Unmarshal(buf, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// fail builds the stage's error for step, with the key and value the
// config gave and where it was read (whereKey indexes plan.Where).
func (s *stager) fail(step, whereKey, key, value string, err error) error {
	pos := s.p.Where[whereKey]
	if pos.Key != "" {
		key = pos.KeyName()
	}
	return &StageError{Step: step, Key: key, Value: value, Pos: pos, Err: errText(err)}
}

// errText is err's message without Go's "/proc/self/fd/N" noise.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Path, "/proc/self/fd/") {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// run does everything after release; it returns only on failure.
func (s *stager) run(report *os.File) error {
	cfg := s.cfg
	s.umask = unix.Umask(0)
	if s.p.CgroupNS {
		// After release the shim has moved us into the container's cgroup:
		// the new namespace is rooted there.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return s.fail("unshare cgroup namespace", "namespace", "lxc.namespace.clone", "", err)
		}
	}
	var err error
	if s.hostCg, err = hostCgroupMounts(); err != nil {
		return s.fail("read host cgroup mounts", "mount.auto", "lxc.mount.auto", "", err)
	}
	lastCap, err := readLastCap()
	if err != nil {
		return s.fail("capabilities", "caps", "lxc.cap.drop", "", err)
	}
	// Read while /proc is still the host's: the rootfs may have none.
	havePerm, err := permittedNow()
	if err != nil {
		return s.fail("capabilities", "caps", "lxc.cap.drop", "", err)
	}
	// The attr files are opened while /proc is still the host's: the
	// rootfs may mount none, and its own is the container's to change.
	if s.labels, err = s.openLabels(); err != nil {
		return err
	}
	// Nothing mounted from now on may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return s.fail("make / rslave", "", "", "", err)
	}
	// LXC runs pre-mount in the container's mount namespace, before the
	// root file system is mounted: paths are the host's.
	if err := s.hooks("pre-mount"); err != nil {
		return err
	}
	if err := s.mountRootfs(); err != nil {
		return err
	}
	if cfg.Autodev {
		if err := s.mountAutodev(); err != nil {
			return err
		}
	}
	if err := s.autoProcSys(); err != nil {
		return err
	}
	for i, m := range cfg.Mounts {
		if err := s.mountEntry(i, m); err != nil {
			return err
		}
	}
	if err := s.autoCgroup(); err != nil {
		return err
	}
	// After every mount, before /dev is filled and the pivot (LXC's
	// lxc_setup): the hooks see the host's paths and the container's
	// mounts under LXC_ROOTFS_MOUNT.
	if err := s.hooks("mount"); err != nil {
		return err
	}
	if cfg.Autodev {
		if err := s.hooks("autodev"); err != nil {
			return err
		}
		if err := s.fillAutodev(); err != nil {
			return err
		}
	}
	if err := s.setupDevpts(); err != nil {
		return err
	}
	if err := s.setupConsole(); err != nil {
		return err
	}
	if err := s.setupTTYs(); err != nil {
		return err
	}
	if err := s.rootfsOptions(); err != nil {
		return err
	}
	if err := s.pivot(); err != nil {
		return err
	}
	if err := bootID(); err != nil {
		return &StageError{Step: "boot id", Key: "/proc/sys/kernel/random/boot_id", Err: err.Error()}
	}
	if cfg.UTSName != "" && s.p.Clone&unix.CLONE_NEWUTS != 0 {
		if err := unix.Sethostname([]byte(cfg.UTSName)); err != nil {
			return s.fail("sethostname", "uts", "lxc.uts.name", cfg.UTSName, err)
		}
	}
	if s.p.Clone&unix.CLONE_NEWNET != 0 {
		if err := configureInside(cfg.Net); err != nil {
			return &StageError{Step: "network inside", Err: err.Error()}
		}
	}
	if err := s.sysctls(); err != nil {
		return err
	}
	if err := s.prlimits(); err != nil {
		return err
	}
	if cfg.Personality != 0 {
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(cfg.Personality), 0, 0); e != 0 {
			return s.fail("personality", "", "lxc.arch", cfg.Arch, e)
		}
	}
	return s.execInit(report, lastCap, havePerm)
}

func (s *stager) sysctls() error {
	for i, kv := range s.cfg.Sysctls {
		w := "sysctl." + strconv.Itoa(i)
		if s.p.Clone&unix.CLONE_NEWNET == 0 && strings.HasPrefix(kv.Key, "net.") {
			return s.fail("sysctl", w, "lxc.sysctl."+kv.Key, kv.Value,
				errors.New("the network namespace is kept from the host; refusing to change the host's setting"))
		}
		p := "/proc/sys/" + strings.ReplaceAll(kv.Key, ".", "/")
		if err := os.WriteFile(p, []byte(kv.Value), 0); err != nil {
			return s.fail("sysctl", w, "lxc.sysctl."+kv.Key, kv.Value, err)
		}
	}
	return nil
}

func (s *stager) prlimits() error {
	for i, l := range s.cfg.Prlimits {
		rl := unix.Rlimit{Cur: l.Soft, Max: l.Hard}
		if err := unix.Prlimit(0, l.Resource, &rl, nil); err != nil {
			return s.fail("prlimit", "prlimit."+strconv.Itoa(i), "lxc.prlimit."+l.Name,
				fmt.Sprintf("%d:%d", l.Soft, l.Hard), err)
		}
	}
	return nil
}
