package proc

import "sync"

// Buffer collects writes, such as a server's logs, and is safe for concurrent use.
// The zero value keeps everything.
type Buffer struct {
	// Keep, when above 0, bounds what is kept to about the last Keep bytes, for a
	// log that is only shown when something failed and must not grow without bound.
	Keep int

	mu  sync.Mutex
	buf []byte
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	// Trimming at twice Keep copies once per Keep bytes written, not on every write.
	if b.Keep > 0 && len(b.buf) > 2*b.Keep {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.Keep:]...)
	}
	return len(p), nil
}

// String returns what was written: everything, or the last Keep bytes.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf
	if b.Keep > 0 && len(s) > b.Keep {
		s = s[len(s)-b.Keep:]
	}
	return string(s)
}
