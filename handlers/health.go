package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// Health answers liveness probes. It calls nothing: a live process is enough.
func Health() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// nilUUID names no identity: asking for it proves the Admin API answers and accepts
// the key (404), and it is cheaper and less rate limited than listing identities.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// readyTimeout bounds each readiness probe.
const readyTimeout = 2 * time.Second

// Ready answers readiness probes: 200 when Ory's FrontendAPI and Admin API answer
// as expected, else 503 naming each failed check.
func Ready(frontend client.FrontendAPI, ids client.IdentityAPI) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()

		public, admin := make(chan error, 1), make(chan error, 1)
		go func() {
			// No credential: a healthy Ory answers 401.
			_, resp, err := frontend.ToSession(ctx).Execute()
			public <- expectStatus(resp, err, http.StatusUnauthorized)
		}()
		go func() {
			_, resp, err := ids.GetIdentity(ctx, nilUUID).Execute()
			admin <- expectStatus(resp, err, http.StatusNotFound)
		}()

		checks := map[string]string{"ory_public": "ok", "ory_admin": "ok"}
		var failed []error
		if err := <-public; err != nil {
			checks["ory_public"] = "unavailable"
			failed = append(failed, fmt.Errorf("ory public: %w", err))
		}
		if err := <-admin; err != nil {
			checks["ory_admin"] = "unavailable"
			failed = append(failed, fmt.Errorf("ory admin: %w", err))
		}
		if len(failed) > 0 {
			p := problem.Unavailable(errors.Join(failed...))
			p.Detail = "Ory is not answering as expected; see checks."
			p.Checks = checks
			problem.Abort(c, p)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": checks})
	}
}

func expectStatus(resp *http.Response, err error, want int) error {
	if resp == nil {
		return err
	}
	if resp.StatusCode != want {
		return ory.AdminProblem(resp, err)
	}
	return nil
}
