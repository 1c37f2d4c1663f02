package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/metrics"
)

// The optional shared session cache (docs/scaling.md): several replicas behind a
// load balancer share Ory's answers and see each other's revocations.

// defaultRedisTimeout bounds each Redis call on a request's way: a few
// milliseconds, so that a slow Redis costs less than asking Ory.
const defaultRedisTimeout = 10 * time.Millisecond

// redisConfig reads REDIS_URL, REDIS_CACHE_KEY and REDIS_TIMEOUT into c.
func redisConfig(getenv func(string) string, c *config, bad func(string, string, ...any)) {
	c.RedisURL, c.RedisKey = getenv("REDIS_URL"), getenv("REDIS_CACHE_KEY")
	c.RedisTimeout = durationVar(getenv, "REDIS_TIMEOUT", defaultRedisTimeout, time.Millisecond, time.Second, bad)
	if c.RedisURL == "" {
		if c.RedisKey != "" {
			bad("REDIS_CACHE_KEY", "set without REDIS_URL: the shared cache is off")
		}
		return
	}
	if _, err := redis.ParseURL(c.RedisURL); err != nil {
		// The error text may quote the URL, password included.
		bad("REDIS_URL", "is not a redis://, rediss:// or unix:// URL")
	} else if strings.Contains(c.RedisURL, "#") {
		// redis.ParseURL ignores a fragment: an unescaped # in the password would
		// leave a host made of its first characters, and the rest in the log.
		bad("REDIS_URL", "has a #: percent-encode the password's special characters (# is %%23)")
	}
	// Whoever knows the key can write entries every replica trusts: it must be as
	// hard to guess as a session token.
	if len(c.RedisKey) < auth.MinSharedKeyLen {
		bad("REDIS_CACHE_KEY", "required with REDIS_URL: at least %d characters (openssl rand -hex 32), the same on every replica; got %d", auth.MinSharedKeyLen, len(c.RedisKey))
	}
}

// redisString describes the shared cache for the start-up log, password masked.
func (c config) redisString() string {
	if c.RedisURL == "" {
		return "off"
	}
	u, err := url.Parse(c.RedisURL)
	if err != nil {
		return "on"
	}
	if u.User != nil {
		u.User = url.User("***")
	}
	return fmt.Sprintf("%s redis_timeout=%s", u.Redacted(), c.RedisTimeout)
}

// sharedCache starts the shared cache when REDIS_URL is set: nil, and nothing to
// stop, when it is not. Redis need not be up: the service starts without it and
// uses it once it answers.
func sharedCache(cfg config, logger *slog.Logger, m *metrics.Metrics) (*auth.Shared, error) {
	if cfg.RedisURL == "" {
		return nil, nil
	}
	return auth.NewShared(auth.SharedOptions{
		URL: cfg.RedisURL, Key: []byte(cfg.RedisKey), Timeout: cfg.RedisTimeout,
		Logger: logger, Metrics: m,
	})
}

// listen subscribes k to revocations published by the other replicas, waiting a
// little for the subscription so that the first requests already see them.
func listen(ctx context.Context, sh *auth.Shared, k *auth.Checker, logger *slog.Logger) {
	if sh == nil {
		return
	}
	select {
	case <-sh.Listen(ctx, k):
	case <-time.After(2 * time.Second):
		logger.Warn("redis: not subscribed to revocations yet; serving, and subscribing when Redis answers")
	}
}
