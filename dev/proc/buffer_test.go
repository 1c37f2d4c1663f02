package proc

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferKeepsAll(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _, _ = b.Write([]byte("line\n")) })
	}
	wg.Wait()
	if got, want := b.String(), strings.Repeat("line\n", 10); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestBufferKeepsTail(t *testing.T) {
	const keep = 64 << 10
	b := Buffer{Keep: keep}
	line := strings.Repeat("x", 1023) + "\n"
	for range 300 {
		_, _ = b.Write([]byte(line))
	}
	_, _ = b.Write([]byte("LAST\n"))
	s := b.String()
	if len(s) > keep || !strings.HasSuffix(s, "LAST\n") {
		t.Fatalf("len %d, suffix %q", len(s), s[len(s)-10:])
	}
}
