package config

import (
	"reflect"
	"testing"
)

func TestOverrideEnv(t *testing.T) {
	got := OverrideEnv([]string{"PATH=/bin", "container=lxc", "A=1", "A=2"},
		[]string{"A=3", "PATH=/opt/bin", "A=4", "B"})
	want := []string{"container=lxc", "PATH=/opt/bin", "A=4", "B"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OverrideEnv = %q, want %q", got, want)
	}
	if got := OverrideEnv([]string{"X=1"}, nil); !reflect.DeepEqual(got, []string{"X=1"}) {
		t.Errorf("no overrides: %q", got)
	}
}
