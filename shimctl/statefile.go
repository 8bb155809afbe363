package shimctl

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/atomicfile"
)

// Status is the content of RUNDIR/NAME/state.json, and the answer of the
// control socket's status request.
type Status struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// Pid is the init's host pid, and PidStart its start time in clock
	// ticks after boot (/proc/PID/stat field 22): together they identify
	// the process even after the shim died and the pid might be reused.
	Pid      int    `json:"pid,omitempty"`
	PidStart uint64 `json:"pid_start,omitempty"`
	// BootCount is 1 for the first boot and grows with every reboot and
	// restart; RestartCount counts restarts after crashes only.
	BootCount    int       `json:"boot_count"`
	RestartCount int       `json:"restart_count"`
	StartedAt    time.Time `json:"started_at,omitempty"`  // the shim's start
	BootedAt     time.Time `json:"booted_at,omitempty"`   // the current boot's init start
	LastExit     *LastExit `json:"last_exit,omitempty"`   // the previous init's end
	Reason       string    `json:"reason,omitempty"`      // why failed/stopped
	StopResult   string    `json:"stop_result,omitempty"` // graceful or forced
	ShimPid      int       `json:"shim_pid,omitempty"`
	ShimStart    uint64    `json:"shim_start,omitempty"`
	// StopTimeout is the shim's default grace period of a stop, in
	// seconds (its --stop-timeout): what a stop without -t gives the
	// container, also when lxc-initd has to stop it without the shim.
	StopTimeout float64 `json:"stop_timeout,omitempty"`
	// LogDropped counts the shim's log lines that could not be written
	// (full or failing log file system); the count is logged once the log
	// can be written again. StateWriteError is the last failure to write
	// state.json (a full /run), empty once a write succeeded again; the
	// container keeps running either way. Both come from the live shim.
	LogDropped      uint64 `json:"log_dropped,omitempty"`
	StateWriteError string `json:"state_write_error,omitempty"`
	// Unprivileged is true when the current (or last) boot runs in a user namespace
	// of its own (lxc.idmap); IDMap is its map, one "u|g CONTAINER HOST
	// COUNT" a line, as written.
	Unprivileged bool     `json:"unprivileged"`
	IDMap        []string `json:"idmap,omitempty"`
	// Shim is filled by readers, not by the shim: whether the shim still
	// holds its lock, and whether Pid is still the recorded init.
	ShimAlive bool `json:"shim_alive"`
	InitAlive bool `json:"init_alive"`
	// ShimNotResponding: a shim holds the lock but did not answer in
	// time (stopped, deadlocked, stuck in the kernel); the rest of the
	// status is then state.json checked against /proc.
	ShimNotResponding bool      `json:"shim_not_responding,omitempty"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// LastExit is how an init ended and what it meant.
type LastExit struct {
	// Meaning is "reboot", "halt", "exit N", "signal NAME" or
	// "killed after timeout".
	Meaning string    `json:"meaning"`
	Pid     int       `json:"pid"`
	At      time.Time `json:"at"`
	Boot    int       `json:"boot"`
}

// Paths are the files of one container's state directory.
type Paths struct {
	Dir       string // RUNDIR/NAME
	Lock      string
	StartLock string
	Socket    string
	// Abstract is the control socket's second name (AbstractName).
	Abstract string
	State    string
	Devices  string
}

// PathsFor returns the state files of name under rundir.
func PathsFor(rundir, name string) Paths {
	dir := filepath.Join(rundir, name)
	return Paths{
		Dir:       dir,
		Lock:      filepath.Join(dir, "lock"),
		StartLock: filepath.Join(dir, "start.lock"),
		Socket:    filepath.Join(dir, "control.sock"),
		Abstract:  AbstractName(rundir, name),
		State:     filepath.Join(dir, "state.json"),
		Devices:   filepath.Join(dir, "devices"),
	}
}

// WriteState writes st to path atomically: a reader sees the old file or
// the new one, never half of one.
func WriteState(path string, st *Status) error {
	st.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("state %s: %w", path, err)
	}
	b = append(b, '\n')
	// Not synced: it is rewritten on every state change, and what it says
	// is checked against /proc before anyone acts on it.
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// ReadState reads a state.json. A missing file is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func ReadState(path string) (*Status, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return &st, nil
}

// ProcStartTime is field 22 of /proc/PID/stat: when the process started,
// in clock ticks after boot. A pid and its start time name one process.
func ProcStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// SameProcess reports whether pid is still the process that started at
// start (and is not a zombie waiting for its parent).
func SameProcess(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := ProcStartTime(pid)
	if err != nil || got != start {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return !(i >= 0 && i+2 < len(s) && s[i+2] == 'Z')
}
