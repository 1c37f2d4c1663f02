package apitest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestValidatorRejects proves the validator is not a check that cannot fail.
func TestValidatorRejects(t *testing.T) {
	v := New(t)
	h := http.Header{"Content-Type": {"application/json"}}
	req := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
	tests := []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"valid", 200, `{"message":"hi","identity_id":"9f425a8d-7efc-4768-8f23-7647a74fdf13","session_id":"9f425a8d-7efc-4768-8f23-7647a74fdf13"}`, true},
		{"missing field", 200, `{"message":"hi"}`, false},
		{"extra field", 200, `{"message":"hi","identity_id":"9f425a8d-7efc-4768-8f23-7647a74fdf13","session_id":"9f425a8d-7efc-4768-8f23-7647a74fdf13","token":"x"}`, false},
		{"undocumented status", 418, `{}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.check(req, tt.status, h, []byte(tt.body))
			if (err == nil) != tt.ok {
				t.Errorf("check() error = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
