package container

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// callerKey is what a test's caller holds in its session keyring.
type callerKey struct {
	session, serial int
	payload         string
}

// spawnWithSessionKey spawns b's stage from a thread that has joined a
// session keyring of its own holding one secret key, as a user's login
// session holds theirs: the stage inherits that thread's credentials. The
// thread is never unlocked, so it dies with the goroutine and the keyring
// is gone once the container is.
func spawnWithSessionKey(t *testing.T, b *box) callerKey {
	t.Helper()
	type result struct {
		k   callerKey
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		var r result
		r.k.payload = "tb secret of the caller " + b.name
		if r.k.session, r.err = unix.KeyctlJoinSessionKeyring("tb-" + b.name); r.err != nil {
			done <- r
			return
		}
		if r.k.serial, r.err = unix.AddKey("user", "tb-secret", []byte(r.k.payload), unix.KEY_SPEC_SESSION_KEYRING); r.err != nil {
			done <- r
			return
		}
		r.err = b.spawn()
		done <- r
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	keys := filepath.Join(b.rootfs, "testinit", "keys")
	if err := os.WriteFile(keys, []byte(strconv.Itoa(r.k.serial)), 0o644); err != nil {
		t.Fatal(err)
	}
	return r.k
}

// TestSessionKeyring: the init gets a new session keyring (issue 11: it
// read a key from the caller's); lxc.keyring.session = 0 keeps the
// caller's, and then it reads the key.
func TestSessionKeyring(t *testing.T) {
	for _, keepCaller := range []bool{false, true} {
		t.Run("keep caller's="+strconv.FormatBool(keepCaller), func(t *testing.T) {
			name, rootfs, _ := testinitContainer(t)
			cfg := baseConfig(name, rootfs)
			cfg.Security.NoKeyringSession = keepCaller
			b := newBox(t, cfg)
			k := spawnWithSessionKey(t, b)
			if err := b.st.Release(); err != nil {
				t.Fatalf("release: %v", err)
			}
			r := b.bootReport()
			got := r.Keys[strconv.Itoa(k.serial)]
			if keepCaller {
				if got != k.payload || r.SessionKeyring != k.session {
					t.Errorf("lxc.keyring.session = 0: init's session keyring %d (caller's %d), key read %q; want the caller's keyring and key",
						r.SessionKeyring, k.session, got)
				}
				return
			}
			if got == k.payload {
				t.Errorf("the init read the key %d from the caller's session keyring: %q", k.serial, got)
			}
			if r.SessionKeyring == k.session || r.SessionKeyring <= 0 {
				t.Errorf("init's session keyring %d, want a new one (the caller's is %d)", r.SessionKeyring, k.session)
			}
		})
	}
}
