package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	caseTimeout = 2 * time.Minute
	// stepTimeout bounds one action, such as waiting for an element that never comes.
	stepTimeout = 30 * time.Second
)

// page is one tab of the SPA in a browser context of its own: its own cookie jar,
// as a separate browser profile would have.
type page struct {
	t   *testing.T
	ctx context.Context
	top *topology
}

// open opens the SPA in a new browser context and waits for its first answer from
// the API, which for a new browser is "signed out".
func (top *topology) open(t *testing.T) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(top.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // creates the tab; a timeout comes after
		t.Fatalf("new tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, caseTimeout)
	t.Cleanup(cancelTimeout)
	p := &page{t: t, ctx: ctx, top: top}
	p.goTo(top.app + "/")
	p.waitState("signed-out")
	return p
}

// goTo navigates the tab.
func (p *page) goTo(u string) {
	p.t.Helper()
	p.do(chromedp.Navigate(u))
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%v\npage: %s", err, p.dump())
	}
}

func (p *page) click(css string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
}

func (p *page) text(css string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(css)))
	if err != nil {
		p.t.Fatalf("text of %s: %v\npage: %s", css, err, p.dump())
	}
	return s
}

// eval runs a script in the page (awaiting a promise it returns) and decodes its
// JSON result into out.
func (p *page) eval(script string, out any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](script, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("eval %s: %v\npage: %s", script, err, p.dump())
	}
	if err := json.Unmarshal(raw, out); err != nil {
		p.t.Fatalf("eval %s: %v in %s", script, err, raw)
	}
}

// waitState waits until the SPA's state is want, and fails the test when it reaches
// its error state instead, or is in another state when stepTimeout has passed.
func (p *page) waitState(want string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout+5*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.PollFunction[string](`(want) => {
		const s = document.getElementById("state");
		return s && (s.dataset.state === want || s.dataset.state === "error") ? s.dataset.state : false;
	}`, chromedp.WithPollingArgs(want), chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil || got != want {
		p.t.Fatalf("SPA state %q (%v), want %q\npage: %s", got, err, want, p.dump())
	}
}

// message is one of Ory's messages as the SPA shows it.
type message struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// waitMessages waits until the SPA shows Ory's messages for the flow, and returns them.
func (p *page) waitMessages() []message {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.Poll[[]byte](`(() => {
		const ms = [...document.querySelectorAll("#flow [data-message-id]")].filter((li) => li.className === "error");
		return ms.length ? ms.map((li) => ({ id: li.dataset.messageId, text: li.textContent })) : false;
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		p.t.Fatalf("no message from Ory shown: %v\npage: %s", err, p.dump())
	}
	var ms []message
	if err := json.Unmarshal(raw, &ms); err != nil {
		p.t.Fatal(err)
	}
	return ms
}

// signUp registers through the forms the SPA draws from Ory's ui.nodes, from the
// signed-out page. Ory's registration has two steps: the traits (the "profile"
// method), then the password.
func (p *page) signUp(email, password string) {
	p.t.Helper()
	p.click("#signup")
	p.waitState("registration")
	p.do(chromedp.SetValue(chromedp.CSS(`#flow-form input[name="traits.email"]`), email))
	p.click(`#flow-form button[name="method"][value="profile"]`)
	p.do(chromedp.SetValue(chromedp.CSS(`#flow-form input[name="password"]`), password))
	p.click(`#flow-form button[name="method"][value="password"]`)
}

// signIn signs in through the SPA's login form, from the signed-out page.
func (p *page) signIn(email, password string) {
	p.t.Helper()
	p.click("#signin")
	p.waitState("login")
	p.do(
		chromedp.SetValue(chromedp.CSS(`#flow-form input[name="identifier"]`), email),
		chromedp.SetValue(chromedp.CSS(`#flow-form input[name="password"]`), password),
	)
	p.click(`#flow-form button[name="method"][value="password"]`)
}

// sessionRows waits until the sessions table has n rows and returns them.
func (p *page) sessionRows(n int) []sessionRow {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.PollFunction[[]byte](`(n) => {
		const s = document.getElementById("sessions");
		if (s.hidden || s.dataset.count !== String(n)) return false;
		return [...document.querySelectorAll("#session-rows tr")].map((tr) => ({ id: tr.dataset.sessionId, current: tr.dataset.current === "true" }));
	}`, chromedp.WithPollingArgs(n), chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		p.t.Fatalf("sessions table with %d rows: %v\npage: %s", n, err, p.dump())
	}
	var rows []sessionRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		p.t.Fatal(err)
	}
	return rows
}

type sessionRow struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
}

// cookiesFor are the cookies the browser would send to u.
func (p *page) cookiesFor(u string) []*network.Cookie {
	p.t.Helper()
	res, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		p.t.Fatalf("cookies for %s: %v", u, err)
	}
	return res.Cookies
}

// fetchStatus is the status of a fetch with credentials from the page's own script.
func (p *page) fetchStatus(u string) int {
	p.t.Helper()
	var status int
	p.eval(fmt.Sprintf(`fetch(%q, { credentials: "include" }).then((r) => r.status)`, u), &status)
	return status
}

// probeCookies are the names of the cookies the browser sent to the probe, as the
// page's own script reads them.
func (p *page) probeCookies() []string {
	p.t.Helper()
	var got struct{ Cookies []string }
	p.eval(fmt.Sprintf(`fetch(%q, { credentials: "include" }).then((r) => r.json())`, p.top.probe+"/cookies"), &got)
	return got.Cookies
}

// dump is what the page shows, for failure messages.
func (p *page) dump() string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return fmt.Sprintf("(cannot read the page: %v)", err)
	}
	return s
}

// evilURL is the other site's page, told where to aim.
func (top *topology) evilURL(sessionID string) string {
	q := url.Values{"api": {top.api}, "ory": {top.auth}, "probe": {top.probe}, "sid": {sessionID}}
	return top.evil + "/?" + q.Encode()
}
