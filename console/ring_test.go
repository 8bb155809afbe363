package console

import (
	"bytes"
	"math/rand"
	"testing"
)

// The ring holds the last size bytes whatever the sizes of the writes,
// and its buffer is no larger than what it holds (rounded up to a step)
// until it is full.
func TestRingKeepsTail(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{1, 7, 4096, 10000} {
		r := newRing(size)
		var all []byte
		for i := 0; i < 300; i++ {
			p := make([]byte, rng.Intn(3*size/2+2))
			rng.Read(p)
			r.Write(p)
			all = append(all, p...)
			want := all
			if len(want) > size {
				want = want[len(want)-size:]
			}
			if got := r.Bytes(); !bytes.Equal(got, want) {
				t.Fatalf("size %d, after %d writes (%d bytes): ring holds %d bytes, not the last %d written", size, i+1, len(all), len(got), len(want))
			}
			if cap(r.buf) > size {
				t.Fatalf("size %d: buffer of %d bytes", size, cap(r.buf))
			}
		}
	}
}

func TestRingGrowsWithContent(t *testing.T) {
	r := newRing(DefaultBufferSize)
	if cap(r.buf) != 0 {
		t.Fatalf("an unused ring holds a buffer of %d bytes", cap(r.buf))
	}
	r.Write(bytes.Repeat([]byte("x"), 3000))
	if c := cap(r.buf); c > ringStep {
		t.Errorf("3000 bytes written: buffer of %d bytes, want at most %d", c, ringStep)
	}
	r.Write(nil)
	if got := len(r.Bytes()); got != 3000 {
		t.Errorf("holds %d bytes, want 3000", got)
	}
}
