package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/proc"
)

const testRedisKey = "0123456789abcdef0123456789abcdef"

func TestLoadConfigRedis(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(envOf(nil))
	if err != nil || c.RedisURL != "" || !strings.Contains(c.String(), "redis=off") {
		t.Fatalf("default: RedisURL = %q, String() = %q, err = %v; want off", c.RedisURL, c.String(), err)
	}
	c, err = loadConfig(envOf(map[string]string{
		"REDIS_URL": "redis://app:s3cret-pass@redis.internal:6379/2", "REDIS_CACHE_KEY": testRedisKey, "REDIS_TIMEOUT": "25ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisTimeout != 25*time.Millisecond || c.RedisKey != testRedisKey {
		t.Errorf("RedisTimeout = %s, key set = %t; want 25ms and the key", c.RedisTimeout, c.RedisKey == testRedisKey)
	}
	s := c.String()
	for _, secret := range []string{"s3cret-pass", testRedisKey} {
		if strings.Contains(s, secret) {
			t.Errorf("String() = %q shows a secret", s)
		}
	}
	if !strings.Contains(s, "redis.internal:6379") {
		t.Errorf("String() = %q, want the Redis host", s)
	}
}

func TestLoadConfigRedisErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"url without key", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379"}, []string{"REDIS_CACHE_KEY"}},
		{"short key", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379", "REDIS_CACHE_KEY": "short"}, []string{"REDIS_CACHE_KEY"}},
		{"key without url", map[string]string{"REDIS_CACHE_KEY": testRedisKey}, []string{"REDIS_CACHE_KEY"}},
		{"not a redis url", map[string]string{"REDIS_URL": "http://user:hunter2hunter2@127.0.0.1:6379", "REDIS_CACHE_KEY": testRedisKey}, []string{"REDIS_URL"}},
		{"timeout too long", map[string]string{"REDIS_TIMEOUT": "5s"}, []string{"REDIS_TIMEOUT"}},
		{"timeout zero", map[string]string{"REDIS_TIMEOUT": "0s"}, []string{"REDIS_TIMEOUT"}},
		{"all at once", map[string]string{"REDIS_URL": "ftp://x", "REDIS_TIMEOUT": "x"}, []string{"REDIS_TIMEOUT", "REDIS_URL", "REDIS_CACHE_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(envOf(tt.env))
			wantErrorLines(t, err, tt.want...)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the Redis password", err)
			}
		})
	}
}

// TestRunWithRedisDown: a Redis that is not there neither stops the service from
// starting nor from answering: it falls back to its own cache and Ory.
func TestRunWithRedisDown(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	port, err := proc.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	svc := startRun(t, map[string]string{
		"ORY_SDK_URL": fake.URL, "ORY_ADMIN_URL": fake.URL,
		"REDIS_URL": "redis://127.0.0.1:" + strconv.Itoa(port), "REDIS_CACHE_KEY": testRedisKey,
	})
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("start with Redis down took %s", d)
	}
	tok := fake.AddSession(fake.AddIdentity("hal@example.com"))
	for range 3 {
		if got := svc.status(t, tok); got != 200 {
			t.Fatalf("status = %d, want 200", got)
		}
	}
	if got := svc.status(t, "ory_st_bogusbogusbogusbogusbogusbogus"); got != 401 {
		t.Errorf("bogus token: status = %d, want 401", got)
	}
	if n := fake.WhoamiCalls(); n != 2 {
		t.Errorf("whoami calls = %d, want 2 (the local cache still works)", n)
	}
}
