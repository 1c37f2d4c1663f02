package composecheck

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestReplicasProfile checks the `replicas` profile: Redis, and copies of the app
// configured as the app is, plus the shared cache (docs/scaling.md).
func TestReplicasProfile(t *testing.T) {
	dir := copyCompose(t, nil)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, composeFile)},
		cli.WithWorkingDirectory(dir), cli.WithEnv([]string{"REDIS_CACHE_KEY=k-0123456789abcdef0123456789abcdef"}),
		cli.WithDotEnv, cli.WithResolvedPaths(true), cli.WithNormalization(true),
		cli.WithProfiles([]string{"replicas"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose loader rejected the replicas profile: %v", err)
	}
	app, replica, redis := service(t, p, "app"), service(t, p, "replica"), service(t, p, "redis")
	for _, k := range []string{"PORT", "ORY_SDK_URL", "ORY_ADMIN_URL"} {
		a, _ := envValue(app, k)
		if r, _ := envValue(replica, k); r != a {
			t.Errorf("replica %s = %q, want the app's %q", k, r, a)
		}
	}
	if v, _ := envValue(replica, "REDIS_URL"); v != "redis://redis:6379/0" {
		t.Errorf("replica REDIS_URL = %q, want redis://redis:6379/0", v)
	}
	if v, _ := envValue(replica, "REDIS_CACHE_KEY"); v != "k-0123456789abcdef0123456789abcdef" {
		t.Errorf("replica REDIS_CACHE_KEY = %q, want the one from the environment", v)
	}
	if _, ok := envValue(app, "REDIS_URL"); ok {
		t.Error("app has REDIS_URL: the single app must not need Redis")
	}
	if replica.Deploy == nil || replica.Deploy.Replicas == nil || *replica.Deploy.Replicas < 2 {
		t.Errorf("replica deploy = %+v, want several replicas", replica.Deploy)
	}
	for _, port := range replica.Ports {
		if port.HostIP != "127.0.0.1" {
			t.Errorf("replica publishes %+v beyond this machine", port)
		}
	}
	if len(redis.Ports) != 0 {
		t.Errorf("redis publishes ports %+v: it is for the replicas only", redis.Ports)
	}
	assertDependsOn(t, replica, "redis", types.ServiceConditionStarted)
	assertDependsOn(t, replica, "kratos", types.ServiceConditionHealthy)
}
