package main

import (
	"strings"
	"testing"
)

// A password with an unescaped # makes the rest of the URL a fragment that
// redis.ParseURL ignores: the service would connect to a host made of the user
// name and the password's first characters, and the start-up log would show the
// rest of the password. Such a URL is refused, its text never quoted.
func TestLoadConfigRedisURLWithFragment(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(envOf(map[string]string{
		"REDIS_URL": "redis://default:1234#hunter2tail@redis.internal:6379/0", "REDIS_CACHE_KEY": testRedisKey,
	}))
	if err == nil || !strings.HasPrefix(err.Error(), "REDIS_URL: ") {
		t.Fatalf("loadConfig() error = %v, want a REDIS_URL error", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q shows the Redis password", err)
	}
}
