package handlers_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// TestReadyzSharesOneProbe: /readyz is anonymous, so its cost to Ory must not
// depend on its traffic. Concurrent callers share one probe, and callers that
// follow reuse its result for a while.
func TestReadyzSharesOneProbe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.fake.SetFault(orytest.Delay(100 * time.Millisecond)) // callers overlap the probe
	start := time.Now()

	var wg sync.WaitGroup
	statuses := make([]int, 50)
	for i := range statuses {
		wg.Go(func() {
			resp, err := http.Get(e.srv.URL + "/readyz")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body := e.v.CheckResponse(t, resp)
			e.record(body)
			if statuses[i] = resp.StatusCode; statuses[i] != http.StatusOK {
				t.Logf("concurrent /readyz: %s", body)
			}
		})
	}
	wg.Wait()
	for _, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("concurrent /readyz: status = %d, want %d", s, http.StatusOK)
		}
	}
	for range 150 {
		resp, body := e.do(t, "GET", "/readyz", "")
		e.expect(t, resp, body, http.StatusOK)
	}
	// One probe, then at most one more each time its result has aged out: on a
	// loaded machine the 200 calls may span a few reuse periods.
	most := 1 + int64(time.Since(start)/(2*time.Second))
	if w, a := e.fake.WhoamiCalls(), e.fake.AdminCalls(); w > most || a > most {
		t.Errorf("200 calls to /readyz in %s made %d whoami and %d admin calls, want at most %d each", time.Since(start).Round(time.Millisecond), w, a, most)
	}
}

// TestReadyzRate: a caller that never stops gets at most one probe per couple of
// seconds.
func TestReadyzRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		resp, body := e.do(t, "GET", "/readyz", "")
		e.expect(t, resp, body, http.StatusOK)
		time.Sleep(5 * time.Millisecond) // a steady caller, not a CPU burner
	}
	if w, a := e.fake.WhoamiCalls(), e.fake.AdminCalls(); w > 3 || a > 3 {
		t.Errorf("3s of /readyz made %d whoami and %d admin calls, want at most 3 each", w, a)
	}
}

// TestReadyzRecovers: a failure is reused like a success (a failing Ory is not
// asked more often), and the next probe sees the recovery.
func TestReadyzRecovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.fake.SetFault(orytest.Status(http.StatusInternalServerError))
	start := time.Now()
	for range 20 {
		resp, body := e.do(t, "GET", "/readyz", "")
		e.expect(t, resp, body, http.StatusServiceUnavailable)
	}
	// One probe, then at most one more each time its result has aged out: on a
	// loaded machine the 20 calls may span more than one reuse period.
	most := 1 + int64(time.Since(start)/(2*time.Second))
	if w := e.fake.WhoamiCalls(); w > most {
		t.Errorf("20 calls to a failing /readyz in %s made %d whoami calls, want at most %d", time.Since(start).Round(time.Millisecond), w, most)
	}
	e.fake.SetFault(nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, body := e.do(t, "GET", "/readyz", "")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 5s after Ory recovered; body %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
