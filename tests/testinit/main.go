// Command testinit is the init that lxc-shim's end-to-end tests boot as a
// container's PID 1. It reports what it sees from inside (boot.json) and does
// what the test asks: halt, reboot, exit, ignore signals, leave an escaped
// process behind. Everything lives under /testinit/, which the host sees as
// ROOTFS/testinit/ because the root file system is a plain host directory.
//
// It is built static (CGO_ENABLED=0) so it runs in a root file system with
// nothing else in it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const dir = "/testinit"

type devEntry struct {
	Path  string `json:"path"`
	Mode  string `json:"mode"`
	Major uint32 `json:"rdev_major"`
	Minor uint32 `json:"rdev_minor"`
	Link  string `json:"link,omitempty"`
}

type report struct {
	PID         int                  `json:"pid"`
	PPID        int                  `json:"ppid"`
	Hostname    string               `json:"hostname"`
	UID         int                  `json:"uid"`
	GID         int                  `json:"gid"`
	Cwd         string               `json:"cwd"`
	Args        []string             `json:"args"`
	Env         []string             `json:"env"`
	Status      map[string]string    `json:"status"`
	Mountinfo   []string             `json:"mountinfo"`
	Dev         []devEntry           `json:"dev"`
	Cgroup      []string             `json:"cgroup"`
	Rlimits     map[string][2]uint64 `json:"rlimits"`
	Personality int                  `json:"personality"`
	Links       []string             `json:"links"`
	// ConsoleLflag is the local-mode flags of the init's terminal (stdin,
	// the console): a boot after one that changed them must see the same.
	ConsoleLflag uint32 `json:"console_lflag"`
	// SessionKeyring is the serial of the init's session keyring; Keys
	// what reading each key serial listed in /testinit/keys gave (the
	// payload, or "error: ..."): tests check whose keys the init reaches.
	SessionKeyring int               `json:"session_keyring"`
	Keys           map[string]string `json:"keys,omitempty"`
	// BootID is /proc/sys/kernel/random/boot_id as the init reads it
	// (empty without a /proc).
	BootID string `json:"boot_id,omitempty"`
}

func main() {
	_ = os.MkdirAll(dir, 0o755)
	logEvent("boot %d", os.Getpid())
	// On the console (stdout) and every tty, so tests can see each boot
	// there.
	fmt.Printf("testinit: boot\n")
	ttys, _ := filepath.Glob("/dev/tty[0-9]*")
	for _, p := range ttys {
		if f, err := os.OpenFile(p, os.O_WRONLY|unix.O_NOCTTY, 0); err == nil {
			fmt.Fprintf(f, "testinit: %s boot\r\n", filepath.Base(p))
			f.Close()
		}
	}

	actions, timers := readConfig()
	// Ask for every signal the config names, plus the defaults; the rest keep
	// the kernel's PID-1 rule (unhandled signals are not delivered).
	sigs := make(chan os.Signal, 32)
	for sig := range actions {
		signal.Notify(sigs, sig)
	}
	signal.Notify(sigs, unix.SIGCHLD)

	writeReport()

	for _, t := range timers {
		t := t
		time.AfterFunc(t.after, func() { do(t.action) })
	}
	go pollCommands()

	for sig := range sigs {
		s := sig.(syscall.Signal)
		if s == unix.SIGCHLD {
			reap()
			continue
		}
		logEvent("signal %s", sigName(s))
		if a, ok := actions[s]; ok {
			go do(a)
		}
	}
}

type timer struct {
	after  time.Duration
	action string
}

// readConfig reads /testinit/config: "SIGNAME ACTION" and "after DUR ACTION".
func readConfig() (map[syscall.Signal]string, []timer) {
	actions := map[syscall.Signal]string{
		unix.SIGPWR:    "halt",
		sigRTMIN() + 3: "halt",
	}
	var timers []timer
	f, err := os.Open(filepath.Join(dir, "config"))
	if err != nil {
		return actions, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if fields[0] == "after" && len(fields) >= 3 {
			d, err := time.ParseDuration(fields[1])
			if err == nil {
				timers = append(timers, timer{d, strings.Join(fields[2:], " ")})
			}
			continue
		}
		if s, ok := parseSig(fields[0]); ok {
			actions[s] = strings.Join(fields[1:], " ")
		}
	}
	return actions, timers
}

func pollCommands() {
	p := filepath.Join(dir, "cmd")
	for {
		time.Sleep(20 * time.Millisecond)
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		_ = os.Remove(p)
		a := strings.TrimSpace(string(b))
		if a == "" {
			continue
		}
		logEvent("cmd %s", a)
		go do(a)
	}
}

func do(action string) {
	f := strings.Fields(action)
	if len(f) == 0 {
		return
	}
	switch f[0] {
	case "ignore":
	case "halt":
		logEvent("action halt")
		unix.Sync()
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
			logEvent("halt failed: %v", err)
		}
	case "reboot":
		logEvent("action reboot")
		unix.Sync()
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
			logEvent("reboot failed: %v", err)
		}
	case "exit":
		code := 0
		if len(f) > 1 {
			code, _ = strconv.Atoi(f[1])
		}
		logEvent("action exit %d", code)
		os.Exit(code)
	case "slowhalt":
		d := time.Second
		if len(f) > 1 {
			if v, err := time.ParseDuration(f[1]); err == nil {
				d = v
			}
		}
		logEvent("action slowhalt %s", d)
		time.Sleep(d)
		do("halt")
	case "escape":
		escape()
	case "hangup":
		// What systemd does to its terminals when it shuts down; the
		// rest of the line is the action that follows (e.g. reboot).
		hangup()
		do(strings.Join(f[1:], " "))
	default:
		logEvent("unknown action %q", action)
	}
}

// hangup leaves the terminals as systemd's shutdown leaves them: other
// settings (echo and canonical mode off), then every descriptor of
// /dev/console and /dev/tty1..N hung up (TIOCVHANGUP, and vhangup(2) on the
// controlling terminal, which is the console).
func hangup() {
	// The hang-up sends SIGHUP to the session (ours: the console is our
	// controlling terminal); Go would exit on it, an init must not.
	signal.Ignore(unix.SIGHUP)
	ttys, _ := filepath.Glob("/dev/tty[0-9]*")
	for _, p := range append([]string{"/dev/console"}, ttys...) {
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			logEvent("hangup %s: %v", p, err)
			continue
		}
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			t.Lflag &^= unix.ECHO | unix.ICANON
			_ = unix.IoctlSetTermios(fd, unix.TCSETS, t)
		}
		if err := unix.IoctlSetInt(fd, unix.TIOCVHANGUP, 0); err != nil {
			logEvent("hangup %s: %v", p, err)
		}
		unix.Close(fd)
	}
	if _, _, errno := unix.Syscall(unix.SYS_VHANGUP, 0, 0, 0); errno != 0 {
		logEvent("vhangup: %v", errno)
	}
	logEvent("action hangup")
}

// escape leaves a process behind that is no longer a child of the init: a
// double fork through "sh -c 'sleep & '" when a shell exists, or our own
// binary otherwise. Tests check that a forced stop kills it too.
func escape() {
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = []string{"TESTINIT_ESCAPER=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logEvent("escape failed: %v", err)
		return
	}
	_ = cmd.Wait()
	logEvent("action escape")
}

func init() {
	// The escaper: fork once more and exit, so the grandchild is orphaned
	// (reparented to the init) and lives in its own session.
	switch os.Getenv("TESTINIT_ESCAPER") {
	case "1":
		self, _ := os.Executable()
		cmd := exec.Command(self)
		cmd.Env = []string{"TESTINIT_ESCAPER=2"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "escaper.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
		}
		os.Exit(0)
	case "2":
		signal.Ignore(unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGPWR)
		for {
			time.Sleep(time.Hour)
		}
	}
}

func reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func logEvent(format string, a ...any) {
	f, err := os.OpenFile(filepath.Join(dir, "events.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, format+"\n", a...)
	_ = f.Sync()
	_ = f.Close()
}

func writeReport() {
	r := report{
		PID:     os.Getpid(),
		PPID:    os.Getppid(),
		UID:     os.Getuid(),
		GID:     os.Getgid(),
		Args:    os.Args,
		Env:     os.Environ(),
		Status:  map[string]string{},
		Rlimits: map[string][2]uint64{},
	}
	r.Hostname, _ = os.Hostname()
	r.Cwd, _ = os.Getwd()
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch k {
			case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "SigBlk", "SigIgn", "NoNewPrivs", "NSpid", "Seccomp":
				r.Status[k] = strings.TrimSpace(v)
			}
		}
	}
	r.Mountinfo = lines("/proc/self/mountinfo")
	r.Cgroup = lines("/proc/self/cgroup")
	for name, res := range map[string]int{"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC, "core": unix.RLIMIT_CORE, "stack": unix.RLIMIT_STACK} {
		var rl unix.Rlimit
		if unix.Getrlimit(res, &rl) == nil {
			r.Rlimits[name] = [2]uint64{rl.Cur, rl.Max}
		}
	}
	if p, _, errno := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0); errno == 0 {
		r.Personality = int(p)
	}
	_ = filepath.Walk("/dev", func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == "/dev" {
			return nil
		}
		e := devEntry{Path: p, Mode: fi.Mode().String()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&(os.ModeDevice|os.ModeCharDevice) != 0 {
			e.Major, e.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			e.Link, _ = os.Readlink(p)
		}
		r.Dev = append(r.Dev, e)
		// Do not descend into devpts or mqueue-like mounts' contents beyond
		// one level; /dev/pts entries are still listed.
		return nil
	})
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			r.Links = append(r.Links, e.Name())
		}
	}
	if t, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		r.ConsoleLflag = t.Lflag
	}
	r.SessionKeyring, r.Keys = keyrings()
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		r.BootID = strings.TrimSpace(string(b))
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	tmp := filepath.Join(dir, ".boot.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err == nil {
		_ = os.Rename(tmp, filepath.Join(dir, "boot.json"))
	}
}

// keyrings reports the session keyring and tries to read every key serial
// listed in /testinit/keys.
func keyrings() (int, map[string]string) {
	id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		id = -1
	}
	b, err := os.ReadFile(filepath.Join(dir, "keys"))
	if err != nil {
		return id, nil
	}
	keys := map[string]string{}
	for _, f := range strings.Fields(string(b)) {
		serial, err := strconv.Atoi(f)
		if err != nil {
			keys[f] = "error: not a serial"
			continue
		}
		buf := make([]byte, 4096)
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, serial, buf, 0)
		if err != nil {
			keys[f] = "error: " + err.Error()
			continue
		}
		keys[f] = string(buf[:min(n, len(buf))])
	}
	return id, keys
}

func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func sigRTMIN() syscall.Signal { return syscall.Signal(34) }

var names = map[string]syscall.Signal{
	"HUP": unix.SIGHUP, "INT": unix.SIGINT, "QUIT": unix.SIGQUIT, "USR1": unix.SIGUSR1,
	"USR2": unix.SIGUSR2, "TERM": unix.SIGTERM, "PWR": unix.SIGPWR, "WINCH": unix.SIGWINCH,
	"CONT": unix.SIGCONT, "ALRM": unix.SIGALRM,
}

func parseSig(s string) (syscall.Signal, bool) {
	s = strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if strings.HasPrefix(s, "RTMIN+") {
		n, err := strconv.Atoi(s[6:])
		if err != nil {
			return 0, false
		}
		return sigRTMIN() + syscall.Signal(n), true
	}
	if s == "RTMIN" {
		return sigRTMIN(), true
	}
	if v, ok := names[s]; ok {
		return v, true
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), true
	}
	return 0, false
}

func sigName(s syscall.Signal) string {
	if s >= sigRTMIN() && s <= 64 {
		if s == sigRTMIN() {
			return "SIGRTMIN"
		}
		return fmt.Sprintf("SIGRTMIN+%d", s-sigRTMIN())
	}
	for k, v := range names {
		if v == s {
			return "SIG" + k
		}
	}
	return unix.SignalName(s)
}
