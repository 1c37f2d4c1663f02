package auth

import (
	"context"
	"errors"

	client "github.com/ory/client-go"
	"github.com/redis/go-redis/v9"
)

// refetch is fetch past both caches: Ory is asked whatever they hold, and its
// answer replaces theirs. Recheck needs it because Kratos raises a session's
// level under the same token, so a shared entry is as stale as a local one.
func (k *Checker) refetch(ctx context.Context, cred Credential, key cacheKey, gen uint64) (*client.Session, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opts.Timeout)
	defer cancel()
	if k.cache != nil && k.opts.Shared != nil {
		return k.opts.Shared.refresh(ctx, k, cred, key, gen)
	}
	return k.askAndKeep(ctx, cred, key, gen)
}

// refresh asks Ory and stores the answer locally and in Redis, with the
// revocation count read before asking (as fetch does), so that a revocation
// meanwhile still refuses it. Without that count only the local cache is set.
func (s *Shared) refresh(ctx context.Context, k *Checker, cred Credential, key cacheKey, gen uint64) (*client.Session, error) {
	wgen, genErr := s.revocationCount(ctx)
	sess, err := k.ask(ctx, cred)
	if e, ok := k.cacheable(sess, err); ok {
		k.insert(gen, key, e)
		if genErr == nil {
			s.store(ctx, key, e, wgen, false)
		}
	}
	return sess, err
}

// revocationCount reads the revocation count in Redis.
func (s *Shared) revocationCount(ctx context.Context) (int64, error) {
	if !s.usable() {
		return 0, errors.New("redis skipped")
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	c := s.rdb.Get(ctx, genKey)
	if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
		s.failed("get revocation count", err)
		return 0, err
	}
	s.answered()
	return parseGen(c)
}
