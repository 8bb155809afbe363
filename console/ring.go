package console

// ring keeps the last size bytes written to it. Its buffer grows with what
// it holds, up to size: a terminal nobody writes to (most ttys) costs no
// memory, and a console that printed 3 kB holds about that much, not the
// whole ring (private memory per shim is what counts with many
// containers). It is not safe for concurrent use; the Mux guards it.
type ring struct {
	size int
	buf  []byte // len(buf) < size until the ring is full
	next int    // once full: where the next byte goes
	full bool   // len(buf) == size and the ring has wrapped or filled
}

// ringStep is the smallest growth of a ring's buffer.
const ringStep = 4 << 10

func newRing(size int) *ring { return &ring{size: size} }

func (r *ring) Write(p []byte) {
	n := r.size
	if n <= 0 || len(p) == 0 {
		return
	}
	if !r.full {
		if len(r.buf)+len(p) < n {
			r.grow(len(r.buf) + len(p))
			r.buf = append(r.buf, p...)
			return
		}
		// The ring fills up now: it becomes a full-size circular buffer
		// holding the last n bytes.
		old := r.buf
		r.buf = make([]byte, n)
		r.full = true
		if len(p) >= n {
			copy(r.buf, p[len(p)-n:])
			r.next = 0
			return
		}
		keep := n - len(p)
		copy(r.buf, old[len(old)-keep:])
		copy(r.buf[keep:], p)
		r.next = 0
		return
	}
	if len(p) >= n {
		// Only the tail of p survives.
		copy(r.buf, p[len(p)-n:])
		r.next = 0
		return
	}
	c := copy(r.buf[r.next:], p)
	if c < len(p) {
		copy(r.buf, p[c:])
	}
	r.next = (r.next + len(p)) % n
}

// grow makes room for want bytes: capacity doubles (at least ringStep)
// but never past the ring's size.
func (r *ring) grow(want int) {
	if want <= cap(r.buf) {
		return
	}
	c := max(2*cap(r.buf), ringStep, want)
	c = min(c, r.size)
	b := make([]byte, len(r.buf), c)
	copy(b, r.buf)
	r.buf = b
}

// Bytes returns a copy of the content, oldest byte first.
func (r *ring) Bytes() []byte {
	if !r.full {
		return append([]byte(nil), r.buf...)
	}
	out := make([]byte, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}
