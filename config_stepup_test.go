package main

import (
	"strings"
	"testing"

	"github.com/example/ory-gin-starter/auth"
)

func TestLoadConfigStepUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		mode     auth.StepUpMode
		returnTo string
		bad      string // the variable the one error line names; "" for none
	}{
		{"default", nil, auth.StepUpWhenAvailable, "", ""},
		{"when-available", map[string]string{"STEP_UP": "when-available"}, auth.StepUpWhenAvailable, "", ""},
		{"always", map[string]string{"STEP_UP": "always"}, auth.StepUpAlways, "", ""},
		{"off", map[string]string{"STEP_UP": "off"}, auth.StepUpOff, "", ""},
		{"return to", map[string]string{"STEP_UP_RETURN_TO": "https://app.example.com/account?tab=security"}, auth.StepUpWhenAvailable, "https://app.example.com/account?tab=security", ""},
		{"unknown mode", map[string]string{"STEP_UP": "sometimes"}, "", "", "STEP_UP"},
		{"mode in capitals", map[string]string{"STEP_UP": "ALWAYS"}, "", "", "STEP_UP"},
		{"relative return", map[string]string{"STEP_UP_RETURN_TO": "/account"}, "", "", "STEP_UP_RETURN_TO"},
		{"return without scheme", map[string]string{"STEP_UP_RETURN_TO": "app.example.com/account"}, "", "", "STEP_UP_RETURN_TO"},
		{"return to javascript", map[string]string{"STEP_UP_RETURN_TO": "javascript:alert(1)"}, "", "", "STEP_UP_RETURN_TO"},
		{"return with user info", map[string]string{"STEP_UP_RETURN_TO": "https://evil@app.example.com/"}, "", "", "STEP_UP_RETURN_TO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(envOf(tt.env))
			if tt.bad != "" {
				wantErrorLines(t, err, tt.bad)
				return
			}
			if err != nil {
				t.Fatalf("loadConfig() error = %v", err)
			}
			if c.StepUp != tt.mode || c.StepUpReturn != tt.returnTo {
				t.Errorf("step up = %q return to %q, want %q and %q", c.StepUp, c.StepUpReturn, tt.mode, tt.returnTo)
			}
			if !strings.Contains(c.String(), "step_up="+string(tt.mode)) {
				t.Errorf("String() = %q, want step_up=%s", c, tt.mode)
			}
		})
	}
}
