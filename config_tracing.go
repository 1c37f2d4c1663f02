package main

import "github.com/example/ory-gin-starter/telemetry"

// tracing is the tracing configuration (docs/tracing.md).
type tracing = telemetry.Config

// tracingConfig reads the standard OTEL_* variables, adding any problem, one line
// per variable, to errs.
func tracingConfig(getenv func(string) string, errs *[]error) tracing {
	c, err := telemetry.FromEnv(getenv)
	if err != nil {
		*errs = append(*errs, err)
	}
	return c
}
