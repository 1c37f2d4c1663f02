package orytest

import (
	"context"
	"net/http"
	"slices"
	"testing"
)

// TestSelfServiceSessions: the FrontendAPI's own-session routes answer as Kratos's
// session/handler.go does: the list leaves out the current session and inactive
// ones, a foreign or unknown id is disabled "successfully" without effect, the
// current session cannot be disabled by id, and "all others" answers a count.
func TestSelfServiceSessions(t *testing.T) {
	t.Parallel()
	s := New(t, WithAPIKey(testKey))
	fe := apiClient(s.URL).FrontendAPI
	ctx := context.Background()
	me := s.AddIdentity("me@example.com")
	cur := s.AddSession(me)
	others := []string{s.SessionID(s.AddSession(me)), s.SessionID(s.AddSession(me)), s.SessionID(s.AddSession(me))}
	stranger := s.SessionID(s.AddSession(s.AddIdentity("x@example.com")))

	list, resp, err := fe.ListMySessions(ctx).XSessionToken(cur).Execute()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var got []string
	for _, ss := range list {
		got = append(got, ss.Id)
		if ss.Identity == nil || ss.Identity.Id != me {
			t.Errorf("listed session %s lacks its identity", ss.Id)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(others))
	if !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v (not the current session)", got, want)
	}

	// Paging through the cookie path.
	page, resp, err := fe.ListMySessions(ctx).Cookie("ory_kratos_session=" + cur).PageSize(2).Execute()
	if err != nil || len(page) != 2 || resp.Header.Get("Link") == "" {
		t.Fatalf("first page of 2: %d sessions, Link %q, err %v", len(page), resp.Header.Get("Link"), err)
	}

	if resp, err = fe.DisableMySession(ctx, stranger).XSessionToken(cur).Execute(); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Errorf("disable a foreign session: %v %v, want 204 as Kratos answers", resp, err)
	}
	if !s.SessionActive(stranger) {
		t.Error("a foreign session was disabled")
	}
	if resp, err = fe.DisableMySession(ctx, s.SessionID(cur)).XSessionToken(cur).Execute(); resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("disable the current session: %v %v, want 400", resp, err)
	}
	if _, err = fe.DisableMySession(ctx, others[0]).XSessionToken(cur).Execute(); err != nil || s.SessionActive(others[0]) {
		t.Errorf("disable my session: %v, active %v", err, s.SessionActive(others[0]))
	}
	n, _, err := fe.DisableMyOtherSessions(ctx).XSessionToken(cur).Execute()
	if err != nil || n.GetCount() != 3 {
		t.Errorf("disable others = %+v, %v; want a count of 3 (Kratos counts inactive ones too)", n, err)
	}
	for _, id := range others {
		if s.SessionActive(id) {
			t.Errorf("session %s still active", id)
		}
	}
	if !s.SessionActive(s.SessionID(cur)) || !s.SessionActive(stranger) {
		t.Error("the current or a foreign session was disabled")
	}
	if _, resp, err = fe.ListMySessions(ctx).XSessionToken("ory_st_nope").Execute(); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("list without a valid session: %v %v, want 401", resp, err)
	}
	if got := s.SelfServiceRequests(); len(got) != 7 {
		t.Errorf("self-service requests = %d %v, want 7", len(got), got)
	}
	if s.SelfServiceCallsWithKey() != 0 {
		t.Error("a self-service request carried the API key")
	}
}
