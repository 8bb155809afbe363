package version

import (
	"runtime"
	"strings"
	"testing"
)

// A test binary has build information: the string names the Go version it
// was built with and is not the fallback.
func TestString(t *testing.T) {
	s := String()
	if !strings.Contains(s, runtime.Version()) || strings.HasPrefix(s, "unknown") {
		t.Errorf("String() = %q, want the build's Go version %s in it", s, runtime.Version())
	}
}
