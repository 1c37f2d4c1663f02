package main

import (
	"net/url"

	"github.com/example/ory-gin-starter/auth"
)

// stepUpConfig reads which sessions the routes that need a second factor admit
// (STEP_UP) and where Ory sends the browser after it (STEP_UP_RETURN_TO),
// reporting bad values through bad.
func stepUpConfig(getenv func(string) string, bad func(string, string, ...any)) (mode auth.StepUpMode, returnTo string) {
	mode, err := auth.ParseStepUpMode(getenv("STEP_UP"))
	if err != nil {
		bad("STEP_UP", "%v", err)
	}
	if v := getenv("STEP_UP_RETURN_TO"); v != "" {
		// An absolute URL, one of Ory's allowed return URLs: a relative one would be
		// resolved against Ory, and a script URL is no place to send a browser.
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
			bad("STEP_UP_RETURN_TO", "%q is not an absolute http(s) URL like https://app.example.com/account", v)
		} else {
			returnTo = v
		}
	}
	return mode, returnTo
}
