package config

import (
	"encoding/json"
	"fmt"
)

// The runes of DeviceRule.Type and IDMap.Kind are written as one-letter
// strings ("c", "u"), so `check --json` reads like the config.

type deviceRuleJSON struct {
	Allow  bool   `json:"allow"`
	Type   string `json:"type"`
	Major  int64  `json:"major"`
	Minor  int64  `json:"minor"`
	Access string `json:"access"`
}

// MarshalJSON writes Type as a letter.
func (r DeviceRule) MarshalJSON() ([]byte, error) {
	return json.Marshal(deviceRuleJSON{r.Allow, string(r.Type), r.Major, r.Minor, r.Access})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *DeviceRule) UnmarshalJSON(b []byte) error {
	var j deviceRuleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if len(j.Type) != 1 {
		return fmt.Errorf("device rule type %q: want one letter", j.Type)
	}
	*r = DeviceRule{Allow: j.Allow, Type: rune(j.Type[0]), Major: j.Major, Minor: j.Minor, Access: j.Access}
	return nil
}

type idMapJSON struct {
	Kind      string `json:"kind"`
	Container int64  `json:"container"`
	Host      int64  `json:"host"`
	Count     int64  `json:"count"`
}

// MarshalJSON writes Kind as a letter.
func (m IDMap) MarshalJSON() ([]byte, error) {
	return json.Marshal(idMapJSON{string(m.Kind), m.Container, m.Host, m.Count})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *IDMap) UnmarshalJSON(b []byte) error {
	var j idMapJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if len(j.Kind) != 1 {
		return fmt.Errorf("id map kind %q: want u or g", j.Kind)
	}
	*m = IDMap{Kind: rune(j.Kind[0]), Container: j.Container, Host: j.Host, Count: j.Count}
	return nil
}
