package console

// ring keeps the last len(buf) bytes written to it. It is not safe for
// concurrent use; the Mux guards it.
type ring struct {
	buf  []byte
	next int  // where the next byte goes
	full bool // buf has wrapped at least once
}

func newRing(size int) *ring { return &ring{buf: make([]byte, size)} }

func (r *ring) Write(p []byte) {
	n := len(r.buf)
	if n == 0 {
		return
	}
	if len(p) >= n {
		// Only the tail of p survives.
		copy(r.buf, p[len(p)-n:])
		r.next, r.full = 0, true
		return
	}
	c := copy(r.buf[r.next:], p)
	if c < len(p) {
		copy(r.buf, p[c:])
		r.full = true
	}
	r.next = (r.next + len(p)) % n
	if r.next == 0 && len(p) > 0 {
		r.full = true
	}
}

// Bytes returns a copy of the content, oldest byte first.
func (r *ring) Bytes() []byte {
	if !r.full {
		return append([]byte(nil), r.buf[:r.next]...)
	}
	out := make([]byte, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}
