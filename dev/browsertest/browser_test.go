package browsertest

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
)

var screenshot = flag.String("screenshot", "", "write a PNG of the signed-in SPA to this file (docs/browser-signed-in.png)")

const (
	password   = kratostest.Password
	cookieName = kratostest.SessionCookieName
	// Ory's message ids (Kratos's text package): stable, unlike the texts.
	msgInvalidCredentials   = "4000006"
	msgDuplicateCredentials = "4000007"
)

// The cases share one Kratos, one service and one Chromium; each has a browser
// context (cookie jar) of its own, so none sees another's session.
func TestBrowser(t *testing.T) {
	top := startTopology(t)

	t.Run("sign up and sign in: the SPA shows the identity from the API, cookie only", func(t *testing.T) {
		p := top.open(t)
		email := top.k.NewEmail()
		p.signUp(email, password)
		p.waitState("signed-in")
		if got := p.text("#email"); got != email {
			t.Errorf("email shown = %q, want %q", got, email)
		}
		identity, signUpSession := p.text("#identity"), p.text("#session")
		if identity == "" || signUpSession == "" {
			t.Fatalf("identity %q, session %q: want both from /api/resource\npage: %s", identity, signUpSession, p.dump())
		}

		// The page holds no credential: the session is an HttpOnly cookie of Ory's,
		// set for the parent domain, which the browser sends to the API on its own.
		var storage struct {
			Local, Session int
			Cookie         string
		}
		p.eval(`({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie })`, &storage)
		if storage.Local != 0 || storage.Session != 0 || storage.Cookie != "" {
			t.Errorf("page storage = %+v, want nothing: the page must not hold a credential", storage)
		}
		c := findCookie(p.cookiesFor(top.api+"/api/resource"), cookieName)
		if c == nil {
			t.Fatalf("the browser would not send %s to %s", cookieName, top.api)
		}
		if c.Domain != ".example.test" || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
			t.Errorf("%s: domain %q, HttpOnly %v, SameSite %q; want .example.test, true, Lax", cookieName, c.Domain, c.HTTPOnly, c.SameSite)
		}

		p.click("#signout")
		p.waitState("signed-out")
		p.signIn(email, password)
		p.waitState("signed-in")
		if got := p.text("#identity"); got != identity {
			t.Errorf("identity after sign-in = %q, want %q", got, identity)
		}
		if got := p.text("#session"); got == signUpSession || got == "" {
			t.Errorf("session after sign-in = %q, want a new one (sign-up's was %q)", got, signUpSession)
		}

		if *screenshot != "" {
			p.click("#list-sessions")
			p.sessionRows(1)
			png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s (%d bytes)", *screenshot, len(png))
		}
	})

	t.Run("flow errors: Ory's messages for a taken email and a wrong password", func(t *testing.T) {
		email := top.k.NewEmail()
		top.k.Register(t, email, password)
		p := top.open(t)

		p.signUp(email, password)
		if ms := p.waitMessages(); !hasMessage(ms, msgDuplicateCredentials) {
			t.Errorf("messages after signing up with a taken email = %+v, want Ory's id %s", ms, msgDuplicateCredentials)
		}

		p.goTo(top.app + "/")
		p.waitState("signed-out")
		p.signIn(email, "wrong-"+password)
		if ms := p.waitMessages(); !hasMessage(ms, msgInvalidCredentials) {
			t.Errorf("messages after a wrong password = %+v, want Ory's id %s", ms, msgInvalidCredentials)
		}
		if got := p.fetchStatus(top.api + "/api/resource"); got != http.StatusUnauthorized {
			t.Errorf("GET /api/resource after the failed sign-in = %d, want %d", got, http.StatusUnauthorized)
		}
	})

	t.Run("sessions: the list shows the browser's session; revoking it signs the page out", func(t *testing.T) {
		email := top.k.NewEmail()
		other := top.k.Register(t, email, password) // a session on another device
		p := top.open(t)
		p.signIn(email, password)
		p.waitState("signed-in")
		mine := p.text("#session")

		p.click("#list-sessions")
		rows := p.sessionRows(2)
		want := []sessionRow{{ID: mine, Current: true}, {ID: other.SessionID}}
		if !slices.Equal(rows, want) {
			t.Fatalf("sessions = %+v, want %+v", rows, want)
		}

		p.click(`tr[data-session-id="` + other.SessionID + `"] button.revoke`)
		if rows := p.sessionRows(1); rows[0].ID != mine {
			t.Errorf("sessions after revoking the other = %+v, want only %s", rows, mine)
		}
		if _, err := top.k.Whoami(oryflow.Credentials{SessionToken: other.SessionToken}, ""); err == nil {
			t.Error("the other device's session still works in Ory after the SPA revoked it")
		}

		p.click(`tr[data-session-id="` + mine + `"] button.revoke`)
		p.waitState("signed-out")
		p.goTo(top.app + "/")
		p.waitState("signed-out")
		if got := p.fetchStatus(top.api + "/api/resource"); got != http.StatusUnauthorized {
			t.Errorf("GET /api/resource with the revoked session's cookie = %d, want %d", got, http.StatusUnauthorized)
		}
	})

	t.Run("sign out through Ory: the next API call is 401 and the SPA shows signed out", func(t *testing.T) {
		email := top.k.NewEmail()
		top.k.Register(t, email, password)
		p := top.open(t)
		p.signIn(email, password)
		p.waitState("signed-in")
		c := findCookie(p.cookiesFor(top.api+"/api/resource"), cookieName)
		if c == nil {
			t.Fatalf("no %s for the API", cookieName)
		}
		cookie := oryflow.Credentials{Cookie: c.Name + "=" + c.Value}
		if _, err := top.k.Whoami(cookie, ""); err != nil {
			t.Fatalf("whoami with the browser's cookie before signing out: %v", err)
		}

		p.click("#signout")
		p.waitState("signed-out")
		if got := p.fetchStatus(top.api + "/api/resource"); got != http.StatusUnauthorized {
			t.Errorf("GET /api/resource after signing out = %d, want %d", got, http.StatusUnauthorized)
		}
		if findCookie(p.cookiesFor(top.api+"/api/resource"), cookieName) != nil {
			t.Errorf("the browser still holds %s after signing out", cookieName)
		}
		// Ory revoked the session, not only the cookie: a copy of it is refused too.
		if _, err := top.k.Whoami(cookie, ""); err == nil {
			t.Error("Ory still accepts the signed-out session's cookie")
		}
	})

	t.Run("another site cannot read the API's answers or revoke a session", func(t *testing.T) {
		email := top.k.NewEmail()
		top.k.Register(t, email, password)
		p := top.open(t)
		p.signIn(email, password)
		p.waitState("signed-in")
		sid := p.text("#session")
		// The control: from the SPA's own site the browser sends the Ory cookie.
		if got := p.probeCookies(); !slices.Contains(got, cookieName) {
			t.Fatalf("cookies sent to the probe from %s = %v, want %s among them", top.app, got, cookieName)
		}

		// The same browser, signed in, opens a page on another site, whose script tries.
		p.goTo(top.evilURL(sid))
		raw, err := chromedp.Run(p.ctx, chromedp.Poll[string](`document.getElementById("results").dataset.done && document.getElementById("results").textContent`))
		if err != nil {
			t.Fatalf("the other site's page did not finish: %v\npage: %s", err, p.dump())
		}
		var got map[string]attempt
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("%v in %s", err, raw)
		}
		t.Logf("what %s's script saw: %s", top.evil, raw)
		for _, name := range []string{"read", "list", "revoke", "revokeOthers", "whoami"} {
			if a, ok := got[name]; !ok || a.Fetched {
				t.Errorf("%s from %s: %+v, want the browser to refuse it (CORS), so the script reads nothing", name, top.evil, a)
			}
		}
		var probe struct{ Cookies []string }
		if a := got["probe"]; !a.Fetched || json.Unmarshal([]byte(a.Body), &probe) != nil {
			t.Fatalf("probe from %s: %+v, want its answer", top.evil, a)
		}
		if len(probe.Cookies) != 0 {
			t.Errorf("cookies sent cross-site from %s = %v, want none (SameSite=Lax)", top.evil, probe.Cookies)
		}

		p.goTo(top.app + "/")
		p.waitState("signed-in")
		if got := p.text("#session"); got != sid {
			t.Errorf("session after the other site's attempts = %q, want %q still signed in", got, sid)
		}
	})

	t.Run("no Access-Control-Allow-Credentials for a wildcard or unlisted origin", func(t *testing.T) {
		for _, srv := range []struct{ name, url, path string }{
			{"API", top.apiLocal, "/api/resource"},
			{"Kratos", top.k.PublicURL(), "/sessions/whoami"},
		} {
			if h := corsHeaders(t, srv.url+srv.path, http.MethodOptions, top.app); h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Allow-Origin") != top.app {
				t.Fatalf("%s preflight from the SPA's origin: %v, want it allowed with credentials (or this case proves nothing)", srv.name, h)
			}
			for _, o := range []string{"*", "null", top.evil, top.app + ".evil.test", "http://" + appHost, "https://" + appHost, top.api, top.probe} {
				for _, method := range []string{http.MethodGet, http.MethodOptions} {
					h := corsHeaders(t, srv.url+srv.path, method, o)
					if v := h.Get("Access-Control-Allow-Credentials"); v != "" {
						t.Errorf("%s %s from Origin %q: Access-Control-Allow-Credentials %q", srv.name, method, o, v)
					}
					if v := h.Get("Access-Control-Allow-Origin"); v != "" {
						t.Errorf("%s %s from Origin %q: Access-Control-Allow-Origin %q", srv.name, method, o, v)
					}
				}
			}
		}
	})
}

// attempt is one fetch of the other site's page, as its script saw it.
type attempt struct {
	Fetched bool   `json:"fetched"`
	Status  int    `json:"status"`
	Body    string `json:"body"`
	Error   string `json:"error"`
}

// corsHeaders sends a request (a preflight for DELETE when method is OPTIONS) from
// origin and returns the answer's headers.
func corsHeaders(t *testing.T, u, method, origin string) http.Header {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", http.MethodDelete)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header
}

func findCookie(cs []*network.Cookie, name string) *network.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func hasMessage(ms []message, id string) bool {
	return slices.ContainsFunc(ms, func(m message) bool { return m.ID == id && m.Text != "" })
}
