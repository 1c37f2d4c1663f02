package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/example/ory-gin-starter/problem"
)

// requestLog logs one line per request: never headers, cookies or tokens. The error
// causes handlers recorded (problem.Abort) are logged here and nowhere else.
// With traced, the line names the request's trace.
func requestLog(logger *slog.Logger, traced bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		id := requestID(c.GetHeader("X-Request-Id"))
		c.Header("X-Request-Id", id)
		c.Next()

		status := c.Writer.Status()
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", c.Request.Method),
			slog.String("route", c.FullPath()),
			slog.String("path", c.Request.URL.EscapedPath()),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if traced {
			if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
				attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
			}
		}
		level := slog.LevelInfo
		if len(c.Errors) > 0 {
			attrs = append(attrs, slog.String("error", c.Errors.Last().Error()))
		}
		switch {
		case c.Request.Context().Err() != nil:
			// The client hung up before the answer: not an outage, whatever the status.
			attrs = append(attrs, slog.Bool("client_gone", true))
		case status >= 500:
			level = slog.LevelError
		}
		logger.LogAttrs(c.Request.Context(), level, "request", attrs...)
		if status < http.StatusInternalServerError {
			// Logged above. Left here, the request span (otelgin) would make a
			// caller's 401 or 404 a server error.
			c.Errors = c.Errors[:0]
		}
	}
}

// requestID keeps a caller's request id when it is short plain text, else makes one.
func requestID(v string) string {
	if len(v) > 0 && len(v) <= 64 && isPlain(v) {
		return v
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// recovered answers a panic with a plain 500 problem; the panic value is logged
// through the request log, never sent.
func recovered(c *gin.Context, v any) {
	problem.Abort(c, fmt.Errorf("panic: %v", v))
}

// securityHeaders sets headers that make every response safe to show to a browser:
// JSON only, never framed, never sniffed, never cached when it carries user data.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		c.Next()
	}
}

// cors allows browser calls with credentials (the Ory cookie) from the listed
// origins only. With no origins it adds nothing, and browsers refuse cross-origin
// reads as usual.
func cors(origins []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" || !slices.Contains(origins, origin) {
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate, X-Request-Id")
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, X-Session-Token, Content-Type, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

// refuseBody refuses every request that has a body, before anything reads it and
// before the session check: no route takes one, and reading (or buffering) bodies
// for callers who are not even signed in would cost memory and time for nothing.
// The connection is closed after the answer, so the server does not read the
// unwanted body either. A route that needs a body one day registers its own
// bounded reader and is exempted here: the Ory webhooks, whose routes exist only
// when they are configured.
func refuseBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		// 0 means no body; -1 (chunked, or unknown) and anything above are bodies.
		if c.Request.ContentLength != 0 && !strings.HasPrefix(c.FullPath(), hooksPrefix) {
			c.Header("Connection", "close")
			problem.Abort(c, problem.New(http.StatusRequestEntityTooLarge, problem.CodeTooLarge, "No route of this API takes a request body."))
			return
		}
		c.Next()
	}
}
