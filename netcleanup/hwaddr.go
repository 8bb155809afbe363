package netcleanup

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// HWAddr is the MAC a container's network number index gets when its config
// sets no lxc.net.N.hwaddr: derived from the container name and the index, so
// the container keeps it across starts and reboots (random MACs confuse
// switches and DHCP servers, as the seed warns). It is locally administered
// and unicast.
func HWAddr(container string, index int) string {
	b := digest("hwaddr", container, index)
	b[0] = b[0]&0xfc | 0x02
	return net.HardwareAddr(b[:6]).String()
}

// hostVethHWAddr is the MAC of the host end of a veth. Its first byte is 0xfe
// (the highest locally administered unicast value) because a Linux bridge
// takes the lowest MAC of its ports as its own: a low random MAC on every
// container start would make the bridge's MAC change under the host.
func hostVethHWAddr(container string, index int) net.HardwareAddr {
	b := digest("host veth", container, index)
	b[0] = 0xfe
	return net.HardwareAddr(b[:6])
}

func digest(purpose, container string, index int) [sha256.Size]byte {
	return sha256.Sum256([]byte("lxc-shim " + purpose + "\x00" + container + "\x00" + strconv.Itoa(index)))
}

// FillHWAddr returns pattern with LXC's 'x' wildcards replaced by random hex
// digits, normalised to six lower-case two-digit octets. As LXC does, a
// wildcard in the first octet's low digit only takes even values, so the
// result is unicast. Octets of one digit ("02:00:c0:a8:1:a", what the seed's
// hwaddr.sh prints) are accepted.
func FillHWAddr(pattern string) (string, error) {
	var buf [12]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return "", fmt.Errorf("hwaddr %q: %w", pattern, err)
	}
	return fillHWAddr(pattern, buf[:])
}

// stableFillHWAddr fills the wildcards from the container name and index
// instead of at random, so a pattern gives the same MAC at every start.
func stableFillHWAddr(pattern, container string, index int) (string, error) {
	d := digest("hwaddr pattern "+pattern, container, index)
	return fillHWAddr(pattern, d[:12])
}

// fillHWAddr fills wildcard number i with the low nibble of src[i%len(src)].
func fillHWAddr(pattern string, src []byte) (string, error) {
	parts := strings.Split(strings.TrimSpace(pattern), ":")
	if len(parts) != 6 {
		return "", fmt.Errorf("hwaddr %q: want six octets separated by ':'", pattern)
	}
	var mac [6]byte
	n := 0
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 {
			return "", fmt.Errorf("hwaddr %q: octet %d %q: want one or two hex digits", pattern, i+1, p)
		}
		if len(p) == 1 {
			p = "0" + p
		}
		var v byte
		for j := 0; j < 2; j++ {
			c := p[j]
			var d byte
			switch {
			case c == 'x' || c == 'X':
				d = src[n%len(src)] & 0x0f
				n++
				if i == 0 && j == 1 {
					d &= 0x0e // keep it unicast, as LXC does
				}
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				d = c - 'A' + 10
			default:
				return "", fmt.Errorf("hwaddr %q: octet %d %q: not a hex digit or 'x'", pattern, i+1, parts[i])
			}
			v = v<<4 | d
		}
		mac[i] = v
	}
	if mac[0]&1 != 0 {
		return "", fmt.Errorf("hwaddr %q: a multicast address cannot be a device address", pattern)
	}
	if mac == [6]byte{} {
		return "", fmt.Errorf("hwaddr %q: the all-zero address cannot be a device address", pattern)
	}
	return net.HardwareAddr(mac[:]).String(), nil
}

// HWAddrFromIPv4 is the MAC the seed's hwaddr.sh derives from a container's
// IPv4 address: "02:00:" and each octet in lower-case hex, so 192.168.1.10
// gives "02:00:c0:a8:01:0a". The octets are zero-padded, the form the
// interface shows, where hwaddr.sh prints them unpadded ("02:00:c0:a8:1:a");
// the config and FillHWAddr accept both, as LXC does. It returns "" for an
// address that is not IPv4.
func HWAddrFromIPv4(a netip.Addr) string {
	a = a.Unmap()
	if !a.Is4() {
		return ""
	}
	b := a.As4()
	return fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// RandomHWAddr is a random locally administered unicast MAC.
func RandomHWAddr() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random hwaddr: %w", err)
	}
	b[0] = b[0]&0xfc | 0x02
	return net.HardwareAddr(b[:]).String(), nil
}
