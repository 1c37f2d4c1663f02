package tracecheck

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// Collector is a fake OpenTelemetry collector: it accepts OTLP/HTTP protobuf
// exports on POST /v1/traces and keeps the spans. Point
// OTEL_EXPORTER_OTLP_ENDPOINT at URL.
type Collector struct {
	URL string

	mu    sync.Mutex
	spans []Span
	posts int
}

// NewCollector starts a collector that is closed when the test ends.
func NewCollector(t testing.TB) *Collector {
	t.Helper()
	c := &Collector{}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// Spans returns the spans received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Posts is the number of exports received.
func (c *Collector) Posts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.posts
}

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(io.LimitReader(body, 32<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		res := kvs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s := Span{
					Name:     sp.GetName(),
					Kind:     strings.ToLower(strings.TrimPrefix(sp.GetKind().String(), "SPAN_KIND_")),
					TraceID:  hex.EncodeToString(sp.GetTraceId()),
					SpanID:   hex.EncodeToString(sp.GetSpanId()),
					Status:   sp.GetStatus().GetMessage(),
					Attrs:    kvs(sp.GetAttributes()),
					Resource: res,
				}
				if p := sp.GetParentSpanId(); len(p) > 0 {
					s.ParentID = hex.EncodeToString(p)
				}
				for _, e := range sp.GetEvents() {
					s.Events = append(s.Events, Event{Name: e.GetName(), Attrs: kvs(e.GetAttributes())})
				}
				got = append(got, s)
			}
		}
	}
	c.mu.Lock()
	c.spans = append(c.spans, got...)
	c.posts++
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func kvs(list []*common.KeyValue) map[string]string {
	m := make(map[string]string, len(list))
	for _, kv := range list {
		m[kv.GetKey()] = value(kv.GetValue())
	}
	return m
}

// value renders any OTLP value as text, arrays and maps included, so that the
// leak scan sees every string in it.
func value(v *common.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *common.AnyValue_StringValue:
		return x.StringValue
	case *common.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *common.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *common.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *common.AnyValue_BytesValue:
		return string(x.BytesValue)
	case *common.AnyValue_ArrayValue:
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, value(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *common.AnyValue_KvlistValue:
		var parts []string
		for k, e := range kvs(x.KvlistValue.GetValues()) {
			parts = append(parts, k+"="+e)
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return ""
}
