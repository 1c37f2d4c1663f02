package main

import (
	"strings"
	"testing"
	"time"
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
			if err == nil {
				t.Fatal("loadConfig() error = nil, want one")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("loadConfig() error has %d lines, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, name := range tt.want {
				if !strings.HasPrefix(lines[i], name+": ") {
					t.Errorf("error line %d = %q, want it to start with %q", i, lines[i], name+": ")
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the Redis password", err)
			}
		})
	}
}
