package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/ory"
)

const rateLimited = "ory_rate_limited_total"

// TestOryRateLimitsCounted: every 429 from Ory is counted by the API that sent it,
// and the label stays bounded whatever a caller passes.
func TestOryRateLimitsCounted(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		opts []orytest.Option
	}{{"self-hosted", nil}, {"ory network", []orytest.Option{orytest.Network()}}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t, mode.opts...)
			m := metrics.New()
			c := ory.New(ory.Config{PublicURL: fake.URL, AdminURL: fake.URL, RateLimited: m.OryRateLimited})
			fake.SetFault(fake.RateLimited(2))
			for range 3 {
				_, _, _ = c.Frontend.ToSession(t.Context()).XSessionToken("ory_st_x").Execute()
			}
			_, _, _ = c.Admin.GetIdentity(t.Context(), orytest.NewID()).Execute()
			fake.SetFault(nil)
			_, _, _ = c.Admin.GetIdentity(t.Context(), orytest.NewID()).Execute() // a 404 is not counted
			m.OryRateLimited("a label nobody planned")

			r := gin.New()
			r.GET("/metrics", m.Handler())
			srv := httptest.NewServer(r)
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			sc := parse(t, string(body))
			for api, want := range map[string]float64{"frontend": 3, "admin": 1, "other": 1} {
				if got := sc.value(rateLimited, map[string]string{"api": api}); got != want {
					t.Errorf("%s{api=%q} = %v, want %v", rateLimited, api, got, want)
				}
			}
			if got := sc.value(rateLimited, nil); got != 5 {
				t.Errorf("%s = %v in all, want 5 (no other label values)", rateLimited, got)
			}
		})
	}
}
