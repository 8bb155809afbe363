package tests

// End-to-end tests of issue 20 ("first-day friction"): each one is a
// surprise an admin moving over from LXC met, shown fixed through the real
// binaries.

import (
	"strings"
	"testing"
)

// The MAC "hwaddr IPV4" prints is zero-padded, passes check and start, and
// is the MAC of the interface inside; the seed's unpadded form
// (hwaddr.sh's "02:00:a:4d:0:15") is accepted as LXC accepts it and gives
// the padded MAC too.
func TestFrictionHwaddrRoundTrip(t *testing.T) {
	h := newTW(t)
	br := h.bridge()
	mac := strings.TrimSpace(h.must(0, "hwaddr", "10.77.0.20"))
	if mac != "02:00:0a:4d:00:14" {
		t.Fatalf("hwaddr 10.77.0.20 printed %q, want 02:00:0a:4d:00:14", mac)
	}
	a := h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, mac, "10.77.0.20/24")
	})
	b := h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, "02:00:a:4d:0:15", "10.77.0.21/24")
	})
	for c, want := range map[*twCT]string{a: mac, b: "02:00:0a:4d:00:15"} {
		out := h.must(0, "check", c.name)
		if !strings.Contains(out, "valid") {
			t.Errorf("check %s: %q", c.name, out)
		}
		c.start()
		if got := c.insideMAC("eth0"); got != want {
			t.Errorf("%s: eth0 MAC %s, want %s", c.name, got, want)
		}
	}
	a.ping("10.77.0.21")
	a.stop()
	b.stop()
	h.must(0, "cleanup", a.name)
	h.must(0, "cleanup", b.name)
	h.finish()
}
