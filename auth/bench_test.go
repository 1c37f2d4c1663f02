package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// BenchmarkRequireSessionCached is the cost the gate adds to a request whose
// session is cached: credential parsing, the cache lookup and the gin chain.
func BenchmarkRequireSessionCached(b *testing.B) {
	fake := orytest.New(b)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	k := newChecker(b, fake, Options{CacheTTL: time.Hour})
	r := gin.New()
	r.GET("/api/resource", RequireSession(k), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	r.ServeHTTP(httptest.NewRecorder(), req) // warm the cache

	serveLoop(b, r, req)
	if n := fake.WhoamiCalls(); n != 1 {
		b.Fatalf("whoami calls = %d, want 1", n)
	}
}

// BenchmarkUnprotectedRoute is the same request through the same engine without the
// gate: the difference to BenchmarkRequireSessionCached is what the gate costs.
func BenchmarkUnprotectedRoute(b *testing.B) {
	r := gin.New()
	r.GET("/api/resource", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
	req.Header.Set("Authorization", "Bearer "+goodToken)
	serveLoop(b, r, req)
}

func BenchmarkCredentialFrom(b *testing.B) {
	for _, bc := range []struct {
		name   string
		header http.Header
	}{
		{"bearer", http.Header{"Authorization": {"Bearer " + goodToken}}},
		{"cookie", http.Header{"Cookie": {"_ga=GA1.1.123; theme=dark; ory_kratos_session=MTY4NzE5NjM0NnxEdi1CQkFFQ180SUFBUkFCRUFBQVJfLUNBQUVHYzNSeWFXNW5EQThBRFhObGMzTnBiMjVmZEc5clpXNEdjM1J5YVc1bkRDSUFJRUpRUVRWc2RIWnVkV1Z0Y1ZKUVlYQkxVSE5sV2xCaVNFSldURkJ4TlZkRU5scHdLM3diX3pnaW9fVmc9PQ==; lang=en"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := &http.Request{Header: bc.header}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CredentialFrom(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCheckerCachedParallel(b *testing.B) {
	fake := orytest.New(b)
	id := fake.AddIdentity("a@example.com")
	creds := make([]Credential, 64)
	for i := range creds {
		creds[i] = Credential{Token: fake.AddSession(id)}
	}
	k := newChecker(b, fake, Options{CacheTTL: time.Hour})
	for _, c := range creds {
		if _, err := k.Check(b.Context(), c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := k.Check(b.Context(), creds[i%len(creds)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.StopTimer()
	if n := fake.WhoamiCalls(); n != int64(len(creds)) {
		b.Fatalf("whoami calls = %d, want %d", n, len(creds))
	}
}

// serveLoop serves req through r b.N times, reporting allocations; every answer must
// be 204.
func serveLoop(b *testing.B, r http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status = %d, want %d", w.Code, http.StatusNoContent)
		}
	}
}
