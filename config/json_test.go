package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestJSONRoundTrip: the model printed by --json reads back to the same
// model (positions aside), with device and id-map letters as strings.
func TestJSONRoundTrip(t *testing.T) {
	c, err := LoadWith("testdata/seed-funtoo0.conf", "funtoo0", hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	c.Security.IDMap = []IDMap{{Kind: 'u', Container: 0, Host: 100000, Count: 65536}}
	out, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"type": "c"`) || !strings.Contains(string(out), `"kind": "u"`) {
		t.Errorf("letters not printed as strings:\n%s", out)
	}
	var back Config
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Cgroup.Devices[1], DeviceRule{Allow: true, Type: 'c', Major: -1, Minor: -1, Access: "m"}) ||
		back.Security.IDMap[0] != c.Security.IDMap[0] || back.TTY != c.TTY || back.Signals != c.Signals {
		t.Errorf("read back %+v", back)
	}
}
