package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// healthcheck is the container's health probe (`app healthcheck`): the distroless
// image has no curl or wget, so the binary GETs its own /healthz on the port PORT
// names, and the probe's exit status is the answer. ctx bounds the call.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// No proxy: the probe is for this container's own port.
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: status %d, want %d", url, resp.StatusCode, http.StatusOK)
	}
	return nil
}
