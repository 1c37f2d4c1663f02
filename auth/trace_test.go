package auth

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// traced runs check in a span of its own and returns the span's
// auth.session_cache attribute ("" when none was set).
func traced(t *testing.T, check func(ctx context.Context)) string {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, span := tp.Tracer("test").Start(t.Context(), "request")
	check(ctx)
	span.End()
	ended := rec.Ended()
	if len(ended) != 1 {
		t.Errorf("ended spans = %d, want 1", len(ended))
		return ""
	}
	for _, a := range ended[0].Attributes() {
		if a.Key == CacheAttribute {
			return a.Value.AsString()
		}
	}
	return ""
}

func TestCheckNotesCacheOutcomeOnTheSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		good bool
		want []string // outcome of each check in turn
	}{
		{"cache on, valid session", Options{CacheTTL: time.Hour, Traced: true}, true, []string{"miss", "hit", "hit"}},
		{"cache on, refused credential", Options{CacheTTL: time.Hour, DenyTTL: time.Hour, Traced: true}, false, []string{"miss", "refused"}},
		{"cache off", Options{Traced: true}, true, []string{"miss", "miss"}},
		{"not traced (tracing off)", Options{CacheTTL: time.Hour}, true, []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t)
			cred := Credential{Token: "ory_st_notasessionnotasessionnot"}
			if tt.good {
				cred.Token = fake.AddSession(fake.AddIdentity("a@example.com"))
			}
			k := newChecker(t, fake, tt.opts)
			for i, want := range tt.want {
				got := traced(t, func(ctx context.Context) { _, _ = k.Check(ctx, cred) })
				if got != want {
					t.Errorf("check %d: %s = %q, want %q", i+1, CacheAttribute, got, want)
				}
			}
		})
	}
}

// joinSignal is a context whose Done reports its first call: Check selects on
// Done only once it waits for an Ory call, so a check with this context that is
// not the one calling Ory has joined the call in flight by then.
type joinSignal struct {
	context.Context
	once   sync.Once
	joined chan struct{}
}

func (j *joinSignal) Done() <-chan struct{} {
	j.once.Do(func() { close(j.joined) })
	return j.Context.Done()
}

func TestCheckNotesCoalescedCheck(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	entered, release := make(chan struct{}, 1), make(chan struct{})
	fake.SetFault(orytest.OnWhoami(func(_ http.ResponseWriter, r *http.Request) bool {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	}))
	k := newChecker(t, fake, Options{Timeout: 10 * time.Second, CacheTTL: time.Hour, Traced: true})
	cred := Credential{Token: tok}

	leader := make(chan string, 1)
	go func() {
		leader <- traced(t, func(ctx context.Context) { _, _ = k.Check(ctx, cred) })
	}()
	<-entered
	got := traced(t, func(ctx context.Context) {
		j := &joinSignal{Context: ctx, joined: make(chan struct{})}
		go func() {
			<-j.joined
			close(release)
		}()
		_, _ = k.Check(j, cred)
	})
	if got != "coalesced" {
		t.Errorf("joining check: %s = %q, want coalesced", CacheAttribute, got)
	}
	if got := <-leader; got != "miss" {
		t.Errorf("first check: %s = %q, want miss", CacheAttribute, got)
	}
	if n := fake.WhoamiCalls(); n != 1 {
		t.Errorf("whoami calls = %d, want 1", n)
	}
}

// Without a span in the context (tracing off) a check records nothing and
// still answers.
func TestCheckWithoutSpan(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	k := newChecker(t, fake, Options{CacheTTL: time.Hour})
	for range 2 {
		if _, err := k.Check(t.Context(), Credential{Token: tok}); err != nil {
			t.Fatalf("Check = %v", err)
		}
	}
}
