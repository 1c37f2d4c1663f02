// Package handlers is the HTTP API: the router that lists every route, and the
// handlers behind them.
package handlers

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// Deps are what the handlers need.
type Deps struct {
	Logger  *slog.Logger
	Checker *auth.Checker
	Ory     *ory.Clients
	Metrics *metrics.Metrics
	// OpenAPI is the service's own OpenAPI document, served as is.
	OpenAPI []byte
	// CORSOrigins are the browser origins allowed to call with credentials.
	CORSOrigins []string
	// Tracing, when set, is the first middleware: it makes each request's span.
	Tracing gin.HandlerFunc
	// BulkTimeout bounds a route that makes many Ory calls (revoking sessions);
	// 0 means DefaultBulkTimeout. Keep it below the server's write timeout.
	BulkTimeout time.Duration
	// IdentityTTL is how long GET /api/me reuses an identity read through the
	// Admin API, and the step-up routes whether it has a second factor; 0 means
	// DefaultIdentityTTL.
	IdentityTTL time.Duration
	// Webhooks are Ory's webhooks (Ory Actions); off without a secret.
	Webhooks Webhooks
	// StepUp says which sessions the routes that need a second factor admit.
	StepUp auth.StepUpConfig
}

// NewRouter returns the service's HTTP handler with every route.
func NewRouter(d Deps) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false // a redirect would not carry the credential headers of API clients
	r.RedirectFixedPath = false
	// Route on the path as sent: an encoded slash (%2F) is part of a segment, not a
	// separator, so /api/me%2Fsessions is no route rather than /api/me/sessions.
	r.UseEscapedPath = true
	r.UnescapePathValues = true
	r.ContextWithFallback = true
	// No peer is trusted as a proxy: X-Forwarded-For is the caller's to write, so
	// the client address (in request spans) is the connection's peer.
	_ = r.SetTrustedProxies(nil)

	if d.Tracing != nil {
		r.Use(d.Tracing)
	}
	r.Use(
		requestLog(d.Logger, d.Tracing != nil),
		gin.CustomRecoveryWithWriter(nil, recovered),
		d.Metrics.Requests(),
		securityHeaders(),
		cors(d.CORSOrigins),
		refuseBody(),
	)
	r.NoRoute(func(c *gin.Context) { problem.Abort(c, problem.New(http.StatusNotFound, problem.CodeNotFound, "")) })
	r.NoMethod(func(c *gin.Context) {
		problem.Abort(c, problem.New(http.StatusMethodNotAllowed, problem.CodeMethodNotAllowed, ""))
	})

	r.GET("/healthz", Health())
	r.GET("/readyz", Ready(d.Ory.Frontend, d.Ory.Admin))
	r.GET("/openapi.yaml", OpenAPI(d.OpenAPI))
	r.GET("/metrics", d.Metrics.Handler())

	// The caller's own sessions go through the FrontendAPI with the caller's
	// credential; the Admin API (with the key) is for what needs privilege.
	fe, ids, k, bulk := d.Ory.Frontend, d.Ory.Admin, d.Checker, d.BulkTimeout
	api := r.Group("/api", auth.RequireSession(k))
	api.GET("/resource", GetResource())
	idc := NewIdentityCache(ids, d.IdentityTTL, k.Timeout())
	api.GET("/me", GetMe(idc))
	api.GET("/me/sessions", ListMySessions(fe, ids, k, bulk))
	api.DELETE("/me/sessions/:id", RevokeMySession(fe, ids, k, bulk))
	// Signing out everywhere and the admin routes need a second factor (d.StepUp
	// says when): a stolen password alone must not reach them.
	aal2 := auth.RequireAAL(auth.NewStepUp(d.StepUp, k, idc), "aal2")
	api.DELETE("/me/sessions", aal2, RevokeMyOtherSessions(fe, ids, k, bulk))

	admin := api.Group("/admin", auth.RequireRole("admin"))
	admin.Use(aal2)
	admin.GET("/identities", ListIdentities(ids))

	// Ory calls these during its flows (kratos/hooks.yml), with the shared secret
	// instead of a session.
	if wh := d.Webhooks; wh.Secret != "" {
		hooks := r.Group(hooksPrefix, requireWebhookSecret(wh.Secret))
		hooks.POST("/registration", RegistrationHook(wh.BlockedEmailDomains))
		hooks.POST("/settings", SettingsHook(wh.BlockedEmailDomains))
	}
	return r
}
