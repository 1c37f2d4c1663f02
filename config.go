package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/example/ory-gin-starter/auth"
)

// config is the service's configuration, read from the environment.
type config struct {
	Slug         string // ORY_PROJECT_SLUG: Ory Network when set
	PublicURL    string
	AdminURL     string
	APIKey       string
	Port         int
	Timeout      time.Duration
	CacheTTL     time.Duration
	DenyTTL      time.Duration
	CacheSize    int
	JWTMaxTTL    time.Duration
	CORSOrigins  []string
	LogLevel     slog.Level
	ShutdownWait time.Duration
	Tracing      tracing // the OTEL_* variables (config_tracing.go)
	JWKSURL      string
	JWTTemplate  string
	JWTIssuer    string
	JWTAudience  string
	JWTSkew      time.Duration
	// The Ory webhooks (config_hooks.go); off without a secret.
	WebhookSecret       string
	BlockedEmailDomains []string
	StepUp              auth.StepUpMode
	StepUpReturn        string
	RedisURL            string // REDIS_URL: the shared cache when set (redis.go)
	RedisKey            string
	RedisTimeout        time.Duration
}

// Defaults. A 30s session cache keeps a busy user at two whoami calls a minute
// (Ory Network limits them per project, see docs/ory-network.md), while a session
// revoked outside this service (another app, the Ory console) stops working within
// 30s. Revocations through this service's own routes take effect at once.
const (
	defaultPublicURL = "http://127.0.0.1:4433"
	defaultAdminURL  = "http://127.0.0.1:4434"
	defaultCacheTTL  = 30 * time.Second
	defaultDenyTTL   = 5 * time.Second
	defaultTimeout   = 5 * time.Second
	defaultCacheSize = 10_000
	// A few seconds covers the clocks of hosts kept in sync; every second more
	// lengthens the life of every session JWT.
	defaultJWTSkew = 5 * time.Second
)

// loadConfig reads the configuration through getenv and returns every problem at
// once, one line each naming the variable.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		APIKey:      strings.TrimSpace(getenv("ORY_API_KEY")),
		JWKSURL:     getenv("ORY_JWKS_URL"),
		JWTTemplate: getenv("ORY_JWT_TEMPLATE"),
		JWTIssuer:   getenv("ORY_JWT_ISSUER"),
		JWTAudience: getenv("ORY_JWT_AUDIENCE"),
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}

	slug := getenv("ORY_PROJECT_SLUG")
	c.Slug = slug
	c.PublicURL, c.AdminURL = getenv("ORY_SDK_URL"), getenv("ORY_ADMIN_URL")
	switch {
	case slug != "":
		if !isSlug(slug) {
			bad("ORY_PROJECT_SLUG", "%q is not a project slug (letters, digits and dashes)", slug)
		}
		// ORY_SDK_URL may be a custom domain (or the Ory tunnel) for browsers and
		// session checks; the Admin API stays on the project's own host unless
		// ORY_ADMIN_URL says otherwise.
		network := "https://" + slug + ".projects.oryapis.com"
		c.PublicURL = orDefault(c.PublicURL, network)
		c.AdminURL = orDefault(c.AdminURL, network)
	case c.PublicURL == "":
		c.PublicURL = defaultPublicURL
		c.AdminURL = orDefault(c.AdminURL, defaultAdminURL)
	default:
		c.AdminURL = orDefault(c.AdminURL, c.PublicURL)
	}
	for _, v := range []struct {
		name string
		url  *string
	}{{"ORY_SDK_URL", &c.PublicURL}, {"ORY_ADMIN_URL", &c.AdminURL}} {
		clean, err := checkURL(*v.url)
		switch {
		case err != nil:
			bad(v.name, "%v", err)
		case strings.HasPrefix(strings.ToLower(clean), "http:") && isOryNetwork(clean) && getenv(v.name) != "":
			// Only the variable that was set is named: ORY_ADMIN_URL defaults to ORY_SDK_URL.
			bad(v.name, "%q: Ory Network is served over https only; use https://", clean)
		}
		*v.url = clean
	}
	// The key rides on every Admin API call and readiness probe: anyone on the path
	// of plain http could read it. An Ory Network host over http is reported above.
	if u, err := url.Parse(c.AdminURL); c.APIKey != "" && err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) && !isOryNetwork(c.AdminURL) {
		from, as := "ORY_ADMIN_URL", ""
		if getenv(from) == "" {
			from, as = "ORY_SDK_URL", " (the admin URL too: ORY_ADMIN_URL is unset)"
		}
		bad(from, "%q%s would send ORY_API_KEY over plain http on every Admin API call: use https:// (http:// is allowed only for 127.0.0.1, ::1 and localhost)", c.AdminURL, as)
	}
	if (slug != "" || isOryNetwork(c.AdminURL)) && c.APIKey == "" {
		// With a slug the admin URL may be a custom domain, which needs the key
		// just the same.
		bad("ORY_API_KEY", "required: the Admin API of Ory Network (%s) needs a project API key", c.AdminURL)
	}
	if c.APIKey != "" && !strings.HasPrefix(c.APIKey, "ory_apikey_") && !strings.HasPrefix(c.APIKey, "ory_pat_") {
		bad("ORY_API_KEY", "must start with ory_apikey_ or ory_pat_")
	}

	c.Port = intVar(getenv, "PORT", 8080, 1, 65535, bad)
	c.CacheSize = intVar(getenv, "SESSION_CACHE_SIZE", defaultCacheSize, 1, 10_000_000, bad)
	c.Timeout = durationVar(getenv, "ORY_TIMEOUT", defaultTimeout, time.Millisecond, time.Minute, bad)
	c.CacheTTL = durationVar(getenv, "SESSION_CACHE_TTL", defaultCacheTTL, 0, 24*time.Hour, bad)
	c.DenyTTL = durationVar(getenv, "SESSION_CACHE_DENY_TTL", defaultDenyTTL, 0, time.Hour, bad)
	c.ShutdownWait = durationVar(getenv, "SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute, bad)
	c.JWTSkew = durationVar(getenv, "ORY_JWT_CLOCK_SKEW", defaultJWTSkew, 0, time.Minute, bad)
	// Revocations are remembered this long for JWT mode; a longer-lived JWT is refused.
	c.JWTMaxTTL = durationVar(getenv, "ORY_JWT_MAX_TTL", time.Hour, time.Second, 24*time.Hour, bad)

	for o := range strings.SplitSeq(getenv("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || o == "*" {
			bad("CORS_ALLOWED_ORIGINS", "%q is not an origin like https://app.example.com", o)
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}

	c.WebhookSecret, c.BlockedEmailDomains = webhookConfig(getenv, bad)
	c.StepUp, c.StepUpReturn = stepUpConfig(getenv, bad)

	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad("LOG_LEVEL", "%q is not debug, info, warn or error", v)
		}
	}

	if c.JWKSURL != "" || c.JWTTemplate != "" {
		if c.JWKSURL == "" || c.JWTTemplate == "" {
			bad("ORY_JWKS_URL", "session JWTs need both ORY_JWKS_URL and ORY_JWT_TEMPLATE")
		} else if err := checkJWKSURL(c.JWKSURL); err != nil {
			bad("ORY_JWKS_URL", "%v", err)
		}
		// Ory's tokenizer signs with its public URL as iss. It sets no aud: the
		// template's claims mapper sets the template's name, which binds each token
		// to its template (see kratos/tokenizer.claims.jsonnet).
		c.JWTIssuer = orDefault(c.JWTIssuer, c.PublicURL)
		c.JWTAudience = orDefault(c.JWTAudience, c.JWTTemplate)
		// The audience is all that tells a session JWT from the project's OAuth2 ID
		// tokens, signed with the same keys: an empty one (ORY_JWT_AUDIENCE= falls
		// back to the template) or one padded with spaces never starts.
		switch {
		case c.JWTTemplate != "" && strings.TrimSpace(c.JWTTemplate) == "":
			bad("ORY_JWT_TEMPLATE", "is blank: name the tokenizer template")
		case strings.TrimSpace(c.JWTAudience) != c.JWTAudience:
			bad("ORY_JWT_AUDIENCE", "%q is blank or padded with spaces: session JWTs need an exact audience", c.JWTAudience)
		}
	}
	redisConfig(getenv, &c, bad)
	c.Tracing = tracingConfig(getenv, &errs)
	return c, errors.Join(errs...)
}

// String describes the configuration for the start-up log, with the key masked.
func (c config) String() string {
	key := "(none)"
	if c.APIKey != "" {
		key = "***"
		for _, p := range []string{"ory_apikey_", "ory_pat_"} {
			if strings.HasPrefix(c.APIKey, p) {
				key = p + "***"
			}
		}
	}
	jwt := "off"
	if c.JWKSURL != "" {
		// The expected iss and aud are shown: a mismatch refuses every token.
		jwt = fmt.Sprintf("on jwt_iss=%s jwt_aud=%s jwt_skew=%s", c.JWTIssuer, c.JWTAudience, c.JWTSkew)
	}
	// Which Ory the service thinks it talks to: a custom domain without a slug
	// cannot be told from self-hosted Kratos.
	which := "ory=self-hosted"
	switch {
	case c.Slug != "":
		which = "ory=network slug=" + c.Slug
	case isOryNetwork(c.PublicURL) || isOryNetwork(c.AdminURL):
		which = "ory=network"
	}
	hooks := "off"
	if c.WebhookSecret != "" {
		hooks = fmt.Sprintf("on blocked_email_domains=%v", c.BlockedEmailDomains)
	}
	return fmt.Sprintf("%s ory_public=%s ory_admin=%s api_key=%s port=%d timeout=%s cache_ttl=%s cache_size=%d jwt=%s cors=%v webhooks=%s step_up=%s redis=%s",
		which, c.PublicURL, c.AdminURL, key, c.Port, c.Timeout, c.CacheTTL, c.CacheSize, jwt, c.CORSOrigins, hooks, c.StepUp, c.redisString())
}

func orDefault(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// checkJWKSURL accepts https:// and file:// key sets, and http:// only to this
// machine: whoever can change the key set in transit can mint any session.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not an https:// or file:// URL", raw)
	case u.Scheme == "https" && u.Hostname() != "", u.Scheme == "file" && u.Path != "":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%q fetches the key set over plain http: use https:// or file:// (http:// is allowed only for 127.0.0.1, ::1 and localhost)", raw)
	}
	return fmt.Errorf("%q is not an https:// or file:// URL", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}

// isOryNetwork reports whether raw names an Ory Network host (custom domains
// cannot be told apart).
func isOryNetwork(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	for _, d := range []string{"oryapis.com", "oryapis.dev"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

func isSlug(s string) bool {
	for _, r := range s {
		if !(r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return len(s) <= 64
}

// intVar and durationVar read a bounded number; a bad value is reported through
// bad and the default is kept, so every problem is reported at once.
func intVar(getenv func(string) string, name string, def, lo, hi int, bad func(string, string, ...any)) int {
	return numberVar(getenv, name, def, lo, hi, strconv.Atoi, "a whole number", bad)
}

func durationVar(getenv func(string) string, name string, def, lo, hi time.Duration, bad func(string, string, ...any)) time.Duration {
	return numberVar(getenv, name, def, lo, hi, time.ParseDuration, "a duration (like 30s)", bad)
}

func numberVar[T int | time.Duration](getenv func(string) string, name string, def, lo, hi T, parse func(string) (T, error), what string, bad func(string, string, ...any)) T {
	v := getenv(name)
	if v == "" {
		return def
	}
	n, err := parse(v)
	if err != nil || n < lo || n > hi {
		bad(name, "%q is not %s from %v to %v", v, what, lo, hi)
		return def
	}
	return n
}
