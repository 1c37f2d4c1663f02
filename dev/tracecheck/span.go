// Package tracecheck is what the tracing tests read spans with: one plain form of
// a span, from the SDK's in-memory exporter or from a fake OTLP/HTTP collector
// (Collector), a scan of every string a span holds for secrets (Leaks), and a
// reverse proxy that records the headers Ory receives (Proxy).
package tracecheck

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Span is a finished span, its ids in lower-case hex as in a traceparent header.
type Span struct {
	Name     string
	Kind     string // "server", "client", "internal", ...
	TraceID  string
	SpanID   string
	ParentID string // "" for a root span
	Status   string // the status description, when set
	Attrs    map[string]string
	Events   []Event
	Resource map[string]string
}

// Event is a span event with its attributes.
type Event struct {
	Name  string
	Attrs map[string]string
}

// Traceparent is the W3C traceparent header a sampled call made in s carries.
func (s Span) Traceparent() string { return "00-" + s.TraceID + "-" + s.SpanID + "-01" }

// FromStubs converts the spans of the SDK's in-memory exporter.
func FromStubs(stubs tracetest.SpanStubs) []Span {
	out := make([]Span, 0, len(stubs))
	for _, st := range stubs {
		s := Span{
			Name:     st.Name,
			Kind:     st.SpanKind.String(),
			TraceID:  st.SpanContext.TraceID().String(),
			SpanID:   st.SpanContext.SpanID().String(),
			Status:   st.Status.Description,
			Attrs:    map[string]string{},
			Resource: map[string]string{},
		}
		if st.Parent.IsValid() {
			s.ParentID = st.Parent.SpanID().String()
		}
		for _, a := range st.Attributes {
			s.Attrs[string(a.Key)] = a.Value.Emit()
		}
		for _, e := range st.Events {
			ev := Event{Name: e.Name, Attrs: map[string]string{}}
			for _, a := range e.Attributes {
				ev.Attrs[string(a.Key)] = a.Value.Emit()
			}
			s.Events = append(s.Events, ev)
		}
		if st.Resource != nil {
			for _, a := range st.Resource.Attributes() {
				s.Resource[string(a.Key)] = a.Value.Emit()
			}
		}
		out = append(out, s)
	}
	return out
}

// Leaks returns where any of secrets appears in spans: a name, an attribute key
// or value, an event, the status or the resource. Empty secrets are ignored.
func Leaks(spans []Span, secrets ...string) []string {
	var found []string
	check := func(where, v string) {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(v, sec) {
				found = append(found, redact(where, secrets)+" holds a secret")
			}
		}
	}
	checkMap := func(where string, m map[string]string) {
		for k, v := range m {
			check(where+" key "+k, k)
			check(where+" attribute "+k, v)
		}
	}
	for _, s := range spans {
		at := fmt.Sprintf("span %q", s.Name)
		check(at+" name", s.Name)
		check(at+" status", s.Status)
		checkMap(at, s.Attrs)
		checkMap(at+" resource", s.Resource)
		for _, e := range s.Events {
			check(at+" event name", e.Name)
			checkMap(at+" event "+e.Name, e.Attrs)
		}
	}
	return found
}

// redact replaces the secrets in s, so that a report does not repeat them.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<secret>")
		}
	}
	return s
}

// Children returns the spans whose parent is parent.
func Children(spans []Span, parent Span) []Span {
	var out []Span
	for _, s := range spans {
		if s.ParentID == parent.SpanID && s.TraceID == parent.TraceID {
			out = append(out, s)
		}
	}
	return out
}

// Named returns the spans called name.
func Named(spans []Span, name string) []Span {
	var out []Span
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}
