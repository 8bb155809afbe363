package covflush

import (
	"testing"
)

// Outside a coverage build, GOCOVERDIR in the environment opens nothing:
// a production stage never holds a host directory because of it.
func TestNothingWithoutCoverBuild(t *testing.T) {
	t.Setenv("GOCOVERDIR", t.TempDir())
	if testing.CoverMode() != "" {
		// go test -cover: whether its meta-data can be written depends on
		// how go test ran the binary; Open must still follow Built.
		if d := Open(); d != nil && !Built() {
			t.Fatal("Open() without Built()")
		}
		return
	}
	if Built() {
		t.Fatal("Built() in a binary built without -cover")
	}
	if d := Open(); d != nil {
		t.Fatalf("Open() = %v without a -cover build", d)
	}
	if err := (*Dir)(nil).Flush(); err != nil {
		t.Fatal(err)
	}
}
