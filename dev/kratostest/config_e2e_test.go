//go:build e2e

package kratostest_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/example/ory-gin-starter/dev/kratostest"
)

// TestE2EWithConfig: a file given with WithConfig is layered over kratos/kratos.yml
// (here it turns CORS on for one origin), and the environment still wins over it.
func TestE2EWithConfig(t *testing.T) {
	t.Parallel()
	overlay := filepath.Join(t.TempDir(), "overlay.yml")
	err := os.WriteFile(overlay, []byte("serve:\n  public:\n    cors:\n      enabled: true\n      allowed_origins: [http://app.example.test:3000]\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	k := kratostest.Start(t, kratostest.WithConfig(overlay),
		kratostest.WithEnv("SERVE_PUBLIC_CORS_ALLOWED_ORIGINS=http://app.example.test:4000,http://other.example.test:4000"))

	for _, tc := range []struct {
		origin, want string
	}{
		{"http://app.example.test:4000", "http://app.example.test:4000"},
		{"http://other.example.test:4000", "http://other.example.test:4000"},
		{"http://app.example.test:3000", ""}, // the file's, replaced by the environment's list
		{"http://evil.test:4000", ""},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, k.PublicURL()+"/self-service/login/browser", nil)
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Accept", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.want)
			}
		})
	}

	if _, err := kratostest.Run(t.Context(), kratostest.WithConfig(filepath.Join(t.TempDir(), "missing.yml"))); err == nil {
		t.Error("Run with a missing config file: no error")
	}
}
