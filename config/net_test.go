package config

import "testing"

// TestHWAddrOneDigitOctets: LXC reads "02:00:a:4d:0:14" (the seed's
// hwaddr.sh output) as 02:00:0a:4d:00:14; the model holds the padded form
// so the value the interface gets is the one check shows. Wildcards stay.
func TestHWAddrOneDigitOctets(t *testing.T) {
	for in, want := range map[string]string{
		"02:00:a:4d:0:14":   "02:00:0a:4d:00:14",
		"02:00:0A:4D:00:14": "02:00:0a:4d:00:14",
		"0:16:3e:x:xx:1":    "00:16:3e:0x:xx:01",
	} {
		c, err, _ := loadText(t, "lxc.net.0.type = veth\nlxc.net.0.hwaddr = "+in, nil, hostNoLSM)
		if err != nil {
			t.Errorf("hwaddr %s: %v", in, err)
			continue
		}
		if got := c.Net[0].HWAddr; got != want {
			t.Errorf("hwaddr %s: model holds %q, want %q", in, got, want)
		}
	}
}
