// Command ory-gin-starter is a Gin API protected by Ory: every /api route needs a
// valid Ory session, and handlers call Ory's Admin APIs with the project API key.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/joho/godotenv"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/handlers"
	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/telemetry"
)

//go:embed openapi.yaml
var openAPI []byte

func main() {
	// .env is optional and never overrides the real environment.
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "read .env:", err)
		os.Exit(1)
	}
	if len(os.Args) == 2 && os.Args[1] == "healthcheck" {
		// The container image's HEALTHCHECK: it has no shell, curl or wget.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := healthcheck(ctx, os.Getenv)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		stop()
		os.Exit(1)
	}
}

// jwksClientKey is the context key of the *http.Client that fetches the JWT key
// set, for tests whose key set is served over TLS they trust. Unset: the
// verifier's own client.
type jwksClientKey struct{}

// run serves the API until ctx is done, then shuts down gracefully. Logs go to
// stdout as JSON. It returns configuration errors before listening.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	// Off (nil) unless the OTEL_* variables ask for it; flushed at shutdown.
	tracing, err := telemetry.Start(ctx, cfg.Tracing)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() { _ = tracing.Shutdown(context.Background()) }() // early returns; a no-op after the flush below
	m := metrics.New()
	clients := ory.New(ory.Config{PublicURL: cfg.PublicURL, AdminURL: cfg.AdminURL, APIKey: cfg.APIKey, Timeout: cfg.Timeout, RateLimited: m.OryRateLimited, Instrument: tracing.Client})
	opts := auth.Options{
		Timeout:   cfg.Timeout,
		CacheTTL:  cfg.CacheTTL,
		DenyTTL:   cfg.DenyTTL,
		CacheSize: cfg.CacheSize,
		Metrics:   m,
		Traced:    cfg.Tracing.Enabled(),

		MaxJWTLifetime: cfg.JWTMaxTTL,
	}
	if cfg.JWKSURL != "" {
		// The key set is kept fresh past the signal, until the server has shut
		// down: requests still in flight may need it refetched.
		keysCtx, stopKeys := context.WithCancel(context.WithoutCancel(ctx))
		defer stopKeys()
		hc, _ := ctx.Value(jwksClientKey{}).(*http.Client)
		v, err := auth.NewJWTVerifier(keysCtx, auth.JWTConfig{
			JWKSURL:    cfg.JWKSURL,
			Issuer:     cfg.JWTIssuer,
			Audience:   cfg.JWTAudience,
			Skew:       cfg.JWTSkew,
			HTTPClient: hc,
		})
		if err != nil {
			return fmt.Errorf("ORY_JWKS_URL: %w", err)
		}
		opts.JWT = v
	}
	if opts.Shared, err = sharedCache(cfg, logger, m); err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.Shared != nil {
		defer opts.Shared.Close()
	}
	checker := auth.NewChecker(clients.Frontend, opts)
	listen(ctx, opts.Shared, checker, logger)
	router := handlers.NewRouter(handlers.Deps{
		Logger:      logger,
		Tracing:     tracing.Server(),
		Checker:     checker,
		Ory:         clients,
		Metrics:     m,
		OpenAPI:     openAPI,
		CORSOrigins: cfg.CORSOrigins,
		Webhooks:    handlers.Webhooks{Secret: cfg.WebhookSecret, BlockedEmailDomains: cfg.BlockedEmailDomains},
		StepUp:      auth.StepUpConfig{Mode: cfg.StepUp, PublicURL: cfg.PublicURL, ReturnTo: cfg.StepUpReturn, Origins: cfg.CORSOrigins},
	})

	srv := &http.Server{
		Addr:              net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler:           router,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		// Longer than the Ory timeout, so a slow Ory still gets its 503 written.
		WriteTimeout:   cfg.Timeout + 15*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	logger.Info("listening", "addr", ln.Addr().String(), "config", cfg.String(), "tracing", cfg.Tracing.String())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "deadline", cfg.ShutdownWait.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	// Deferred after cancel, so it runs first: the spans of the last requests are
	// flushed in what is left of the shutdown deadline.
	defer func() {
		if err := tracing.Shutdown(sctx); err != nil {
			logger.Warn("tracing: spans not flushed", "err", err)
		}
	}()
	if err := srv.Shutdown(sctx); err != nil {
		// Past the deadline: drop the requests still running rather than leave them
		// served by a server run no longer owns.
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}
