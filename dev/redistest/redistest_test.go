package redistest

import "testing"

func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	if _, err := s.Do("SET", "k", "v\r\nwith bytes\x00"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Do("GET", "k"); err != nil || v != "v\r\nwith bytes\x00" {
		t.Fatalf("GET = %q, %v; want the value set", v, err)
	}
	s.Flush()
	if v, err := s.Do("GET", "k"); err != nil || v != "" {
		t.Fatalf("GET after Flush = %q, %v; want nothing", v, err)
	}
	s.Stop()
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Restart()
	if v, err := s.Do("PING"); err != nil || v != "PONG" {
		t.Fatalf("PING after Restart = %q, %v; want PONG", v, err)
	}
}
