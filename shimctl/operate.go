package shimctl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// Info is what `lxc-initd info` shows of a running container, as
// `lxc-info -S` does. Byte counts are bytes, CPU time nanoseconds; a
// number the host does not account (no swap accounting, no blkio) is
// absent rather than zero.
type Info struct {
	Name      string `json:"name"`
	State     State  `json:"state"`
	Pid       int    `json:"pid"`
	ShimPid   int    `json:"shim_pid"`
	BootCount int    `json:"boot_count"`
	// UptimeSeconds is the time since the current boot's init started.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// IPs are the addresses inside, per interface (lo left out).
	IPs map[string][]string `json:"ips,omitempty"`
	// Cgroup is the usage the container's cgroup accounts.
	MemoryBytes      *uint64 `json:"memory_bytes,omitempty"`
	MemoryLimitBytes *uint64 `json:"memory_limit_bytes,omitempty"` // absent: unlimited
	SwapBytes        *uint64 `json:"swap_bytes,omitempty"`
	CPUNanoseconds   *uint64 `json:"cpu_ns,omitempty"`
	BlkIOBytes       *uint64 `json:"blkio_bytes,omitempty"`
	Pids             *uint64 `json:"pids,omitempty"`
	// CgroupFiles names the file each number was read from, so a reader
	// can check it ("memory_bytes": "/sys/fs/cgroup/memory/lxc-shim/c1/
	// memory.usage_in_bytes").
	CgroupFiles map[string]string `json:"cgroup_files,omitempty"`
	// Net is the traffic of each host-side veth, as the host counts it:
	// TX of the host end is what the container received.
	Net []NetUse `json:"net,omitempty"`
}

// NetUse is one interface's traffic, counted on its host end.
type NetUse struct {
	Name    string `json:"name"`           // the interface inside (eth0)
	Host    string `json:"host"`           // the host end (veth name)
	RxBytes uint64 `json:"rx_bytes"`       // received by the container
	TxBytes uint64 `json:"tx_bytes"`       // sent by the container
	Link    string `json:"link,omitempty"` // the bridge, if any
}

// Freeze freezes the container's cgroup; it returns once the kernel
// reports it frozen.
func (c *Client) Freeze(ctx context.Context) error {
	_, err := c.request(ctx, Request{Op: OpFreeze})
	return err
}

// Unfreeze thaws a frozen container.
func (c *Client) Unfreeze(ctx context.Context) error {
	_, err := c.request(ctx, Request{Op: OpUnfreeze})
	return err
}

// Cgroup reads (value "") or writes one cgroup setting of the running
// container, key in any form the config takes, checked and translated as
// the config's would be. The answer's Value is what was read, Key the
// key in the config's form, File the files read or written.
func (c *Client) Cgroup(ctx context.Context, key, value string) (Response, error) {
	return c.request(ctx, Request{Op: OpCgroup, Key: key, Value: value})
}

// Device adds (action "add") or removes ("del") a host device node or
// network interface to or from the running container, at dest inside
// (default: the same path or name); it returns what was done.
func (c *Client) Device(ctx context.Context, action, path, dest string) (string, error) {
	resp, err := c.request(ctx, Request{Op: OpDevice, Action: action, Path: path, Dest: dest})
	return resp.Value, err
}

// Info asks for the container's usage (see Info).
func (c *Client) Info(ctx context.Context) (*Info, error) {
	resp, err := c.request(ctx, Request{Op: OpInfo})
	if err != nil {
		return nil, err
	}
	if resp.Info == nil {
		return nil, fmt.Errorf("%s: info: empty answer", c.Name)
	}
	return resp.Info, nil
}

// Events subscribes to the container's state changes: the current status
// first, then one per change, pushed by the shim. ctx bounds the
// subscription (its first answer) only: the stream that follows has no
// deadline. The channel is closed when the shim ends (its last status is
// final), when the connection breaks, or once the returned closer was
// called.
func (c *Client) Events(ctx context.Context) (<-chan Status, func() error, error) {
	s, resp, err := c.dial(ctx, Request{Op: OpEvents})
	if err != nil {
		return nil, nil, err
	}
	s.release()
	if err := s.conn.SetDeadline(time.Time{}); err != nil {
		s.conn.Close()
		return nil, nil, fmt.Errorf("%s: events: %w", c.Name, err)
	}
	ch := make(chan Status, 16)
	if resp.Status != nil {
		ch <- *resp.Status
	}
	go readEvents(s.conn, s.br, ch)
	return ch, s.conn.Close, nil
}

func readEvents(conn net.Conn, br *bufio.Reader, ch chan<- Status) {
	defer close(ch)
	defer conn.Close()
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return // EOF: the shim ended (or Close was called)
		}
		var resp Response
		if json.Unmarshal(line, &resp) != nil || resp.Status == nil {
			return
		}
		ch <- *resp.Status
	}
}
