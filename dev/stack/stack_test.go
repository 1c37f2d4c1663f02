//go:build stack

package stack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/oryflow"
)

type resource struct {
	IdentityID string `json:"identity_id"`
	SessionID  string `json:"session_id"`
}

type problem struct {
	Code string `json:"code"`
}

// TestStack brings up docker-compose.yml with the Dockerfile's image and tests the
// stack from the host. The steps share one stack and run in order: each builds on the
// state the previous ones left.
func TestStack(t *testing.T) {
	p := newProject(t)
	t.Logf("compose project %s: app 127.0.0.1:%d, Kratos public :%d, admin 127.0.0.1:%d", p.name, p.appPort, p.publicPort, p.adminPort)

	took := p.must(t, 15*time.Minute, "up", "--build", "-d", "--wait", "--wait-timeout", "600")
	t.Logf("up --build --wait: healthy after %s", took.Round(100*time.Millisecond))

	c := &client{v: apitest.New(t), app: "http://127.0.0.1:" + strconv.Itoa(p.appPort)}
	kratos := "http://127.0.0.1:" + strconv.Itoa(p.publicPort)
	admin := "http://127.0.0.1:" + strconv.Itoa(p.adminPort)
	ctx := context.Background()
	hc := &http.Client{Timeout: 30 * time.Second}

	var token, email, password string
	var me resource
	step(t, "README curl flow gives a session token", true, func(t *testing.T) {
		token, email, password = readmeToken(t, kratos)
		me = decode[resource](t, c.do(t, http.StatusOK, "GET", "/api/resource", bearer(token)))
	})

	step(t, "token routes", false, func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/openapi.yaml", "/metrics"} {
			c.do(t, http.StatusOK, "GET", path)
		}
		for _, h := range [][2]string{bearer(token), {"X-Session-Token", token}} {
			if r := decode[resource](t, c.do(t, http.StatusOK, "GET", "/api/resource", h)); r.IdentityID != me.IdentityID {
				t.Errorf("%s: identity_id = %q, want %q", h[0], r.IdentityID, me.IdentityID)
			}
			c.do(t, http.StatusOK, "GET", "/api/me", h)
			c.do(t, http.StatusOK, "GET", "/api/me/sessions?page_size=10", h)
			c.do(t, http.StatusForbidden, "GET", "/api/admin/identities", h)
		}
		c.do(t, http.StatusUnauthorized, "GET", "/api/resource")
		c.do(t, http.StatusUnauthorized, "GET", "/api/resource", bearer("ory_st_not-a-session"))
	})

	step(t, "cookie routes", false, func(t *testing.T) {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := oryflow.BrowserLogin(ctx, &http.Client{Jar: jar, Timeout: 30 * time.Second}, kratos, email, password)
		if err != nil {
			t.Fatalf("browser login: %v", err)
		}
		cookie := [2]string{"Cookie", res.CookieHeader}
		if r := decode[resource](t, c.do(t, http.StatusOK, "GET", "/api/resource", cookie)); r.IdentityID != me.IdentityID || r.SessionID != res.SessionID {
			t.Errorf("cookie caller: /api/resource = %+v, want identity %s, session %s", r, me.IdentityID, res.SessionID)
		}
		c.do(t, http.StatusOK, "GET", "/api/me", cookie)
		c.do(t, http.StatusOK, "GET", "/api/me/sessions", cookie)
	})

	step(t, "admin route after the role is set through the admin port", false, func(t *testing.T) {
		body := `[{"op":"add","path":"/metadata_public","value":{"role":"admin"}}]`
		req, err := http.NewRequest(http.MethodPatch, admin+"/admin/identities/"+me.IdentityID, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("PATCH identity on the admin port: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PATCH identity on the admin port: status = %d, want %d", resp.StatusCode, http.StatusOK)
		}
		// A new sign-in: the old token's session may be cached without the role.
		fresh := login(t, kratos, email, password)
		page := decode[struct {
			Identities []struct{ ID string } `json:"identities"`
		}](t, c.do(t, http.StatusOK, "GET", "/api/admin/identities", bearer(fresh.SessionToken)))
		if len(page.Identities) == 0 || page.Identities[0].ID != me.IdentityID {
			t.Errorf("admin identities = %+v, want the one identity %s", page.Identities, me.IdentityID)
		}
	})

	step(t, "revoke one session", false, func(t *testing.T) {
		other := login(t, kratos, email, password)
		c.do(t, http.StatusNoContent, "DELETE", "/api/me/sessions/"+other.SessionID, bearer(token))
		c.do(t, http.StatusUnauthorized, "GET", "/api/resource", bearer(other.SessionToken))
		c.do(t, http.StatusOK, "GET", "/api/resource", bearer(token))
	})

	step(t, "sign out everywhere else", false, func(t *testing.T) {
		other := login(t, kratos, email, password)
		got := decode[struct {
			Revoked []string `json:"revoked"`
		}](t, c.do(t, http.StatusOK, "DELETE", "/api/me/sessions", bearer(token)))
		found := false
		for _, id := range got.Revoked {
			found = found || id == other.SessionID
		}
		if !found {
			t.Errorf("revoked = %v, want it to hold %s", got.Revoked, other.SessionID)
		}
		c.do(t, http.StatusUnauthorized, "GET", "/api/resource", bearer(other.SessionToken))
		c.do(t, http.StatusOK, "GET", "/api/resource", bearer(token))
	})

	step(t, "Kratos stopped: 503 and healthz 200; started: recovers", false, func(t *testing.T) {
		// A session the app has never seen, so no cached answer hides the outage.
		unseen := login(t, kratos, email, password)
		p.must(t, 2*time.Minute, "stop", "kratos")
		if pr := decode[problem](t, c.do(t, http.StatusServiceUnavailable, "GET", "/api/resource", bearer(unseen.SessionToken))); pr.Code != "ory_unavailable" {
			t.Errorf("code = %q, want ory_unavailable", pr.Code)
		}
		c.do(t, http.StatusOK, "GET", "/healthz")
		c.readyz(t, http.StatusServiceUnavailable, 15*time.Second)
		start := time.Now()
		p.must(t, 3*time.Minute, "up", "-d", "--wait", "--wait-timeout", "180", "kratos")
		c.do(t, http.StatusOK, "GET", "/api/resource", bearer(unseen.SessionToken))
		c.readyz(t, http.StatusOK, 15*time.Second)
		t.Logf("Kratos healthy again after %s", time.Since(start).Round(100*time.Millisecond))
	})

	step(t, "down then up keeps identities and sessions", false, func(t *testing.T) {
		p.must(t, 3*time.Minute, "down")
		took := p.must(t, 10*time.Minute, "up", "-d", "--wait", "--wait-timeout", "600")
		t.Logf("up --wait (built image, kept volume): healthy after %s", took.Round(100*time.Millisecond))
		if r := decode[resource](t, c.do(t, http.StatusOK, "GET", "/api/resource", bearer(token))); r.IdentityID != me.IdentityID {
			t.Errorf("after down/up: identity_id = %q, want %q", r.IdentityID, me.IdentityID)
		}
		if again := login(t, kratos, email, password); again.IdentityID != me.IdentityID {
			t.Errorf("after down/up: sign-in identity = %q, want %q", again.IdentityID, me.IdentityID)
		}
	})

	step(t, "down -v leaves nothing behind", false, func(t *testing.T) {
		p.must(t, 5*time.Minute, "down", "-v", "--rmi", "local", "--remove-orphans")
		if left := p.leftovers(t); len(left) > 0 {
			t.Errorf("after down -v, the engine still holds: %v", left)
		}
	})
}

// step runs one part of TestStack; a failed step that later ones depend on ends the
// test.
func step(t *testing.T, name string, needed bool, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) && needed {
		t.FailNow()
	}
}

// readmeToken runs the README's "A session token with nothing but curl" block with
// bash against the stack's Kratos, and returns the token it prints and the email and
// password it used. Only the Kratos port is changed in the block.
func readmeToken(t *testing.T, kratos string) (token, email, password string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## A session token with nothing but curl\n.*?```sh\n(.*?)```").FindSubmatch(raw)
	if m == nil {
		t.Fatal("README.md: no sh block under \"## A session token with nothing but curl\"")
	}
	script := string(m[1])
	const local = "ORY=http://127.0.0.1:4433"
	if !strings.Contains(script, local) {
		t.Fatalf("README.md curl block does not set %s; this test points it at the stack's Kratos:\n%s", local, script)
	}
	script = strings.Replace(script, local, "ORY="+kratos, 1)
	cred := regexp.MustCompile(`EMAIL=(\S+) PASSWORD='([^']*)'`).FindStringSubmatch(script)
	if cred == nil {
		t.Fatalf("README.md curl block: no EMAIL=... PASSWORD='...' line:\n%s", script)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-s")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README curl block: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	token = strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(token, "ory_st_") {
		// The output is not logged whole: it would hold a token on a partial success.
		t.Fatalf("README curl block printed no ory_st_ token as its last line (%d lines of output)", len(lines))
	}
	return token, cred[1], cred[2]
}

func login(t *testing.T, kratos, email, password string) oryflow.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := oryflow.Login(ctx, nil, kratos, email, password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return res
}

func bearer(token string) [2]string { return [2]string{"Authorization", "Bearer " + token} }

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %T: %v\nbody: %.300s", v, err, body)
	}
	return v
}
