package auth

import (
	"context"
	"time"
)

// waitBudget bounds the wait for another replica's answer to half of what is
// left of ctx: a claim whose holder died, or failed to store its answer, lapses
// only after a whole Ory timeout, and the waiter must still have time to ask Ory
// itself rather than answer 503.
func waitBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
}
