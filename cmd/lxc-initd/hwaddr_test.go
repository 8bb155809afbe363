package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestHwaddrCommand: "hwaddr IPV4" prints the MAC the seed's hwaddr.sh
// derives, zero-padded (the form the interface shows), "--random" a locally administered unicast MAC, and
// bad usage exits 2 with a message.
func TestHwaddrCommand(t *testing.T) {
	for ip, want := range map[string]string{
		"192.168.1.10":   "02:00:c0:a8:01:0a\n",
		"10.0.0.1":       "02:00:0a:00:00:01\n",
		"10.77.0.20":     "02:00:0a:4d:00:14\n",
		"172.16.254.255": "02:00:ac:10:fe:ff\n",
	} {
		var out, errb bytes.Buffer
		if code := run([]string{"hwaddr", ip}, &out, &errb); code != 0 || out.String() != want {
			t.Errorf("hwaddr %s: exit %d, %q (stderr %q); want %q", ip, code, out.String(), errb.String(), want)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"hwaddr", "--random"}, &out, &errb); code != 0 {
		t.Fatalf("hwaddr --random: exit %d: %s", code, errb.String())
	}
	m, err := net.ParseMAC(strings.TrimSpace(out.String()))
	if err != nil || m[0]&1 != 0 || m[0]&2 == 0 {
		t.Errorf("hwaddr --random printed %q", out.String())
	}
	for _, args := range [][]string{{"hwaddr"}, {"hwaddr", "fd00::1"}, {"hwaddr", "300.1.1.1"}, {"hwaddr", "--random", "10.0.0.1"}, {"hwaddr", "1.2.3.4", "5.6.7.8"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), "lxc-initd hwaddr:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and a message", args, code, out.String(), errb.String())
		}
	}
}
