// Package telemetry gives every Infra Mind service the same observability: JSON logs that carry the
// trace and span ids of the work they describe, OpenTelemetry tracing exported over OTLP when a collector
// is configured, and Prometheus metrics with health and readiness endpoints.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/infra-mind/infra-mind/pkg/redact"
)

// Log attribute keys shared by every service, so dashboards and log queries can join on them.
const (
	// LogKeyService names the service that wrote the record.
	LogKeyService = "service"
	// LogKeyTraceID holds the W3C trace id of the span active when the record was written.
	LogKeyTraceID = "trace_id"
	// LogKeySpanID holds the id of the span active when the record was written.
	LogKeySpanID = "span_id"
)

// NewLogger returns a JSON slog logger for service that writes records at level or above to w.
// level is one of "debug", "info", "warn" or "error" (case-insensitive); anything else is an error.
// Every record logged with a context carrying a valid span gets trace_id and span_id attributes, so a log
// line can be found from its trace and the other way round.
func NewLogger(w io.Writer, service, level string) (*slog.Logger, error) {
	if w == nil {
		return nil, fmt.Errorf("new logger: nil writer")
	}
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("new logger: %w", err)
	}
	base := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: redact.ReplaceAttr})
	return slog.New(traceHandler{next: base}).With(slog.String(LogKeyService, service)), nil
}

// ParseLevel maps a configured level name to a slog level. It accepts only the four names operators are
// told about in the service READMEs, so a typo fails at start instead of silently logging at another level.
func ParseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", level)
	}
}

// traceHandler adds the ids of the span in the record's context. It wraps rather than replaces the JSON
// handler so level filtering and formatting stay the standard library's.
type traceHandler struct {
	next slog.Handler
}

// Enabled reports whether the wrapped handler handles records at level.
func (h traceHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds trace_id and span_id when ctx carries a valid span context, then passes the record on.
// Ids are added to the record (not the handler) because they change with every call's context. When the
// logger has open groups (WithGroup) the ids land inside the innermost group, as slog defines for record
// attributes.
func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r = r.Clone()
			r.AddAttrs(
				slog.String(LogKeyTraceID, sc.TraceID().String()),
				slog.String(LogKeySpanID, sc.SpanID().String()),
			)
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a handler whose records also carry attrs.
func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a handler that nests later attributes under name.
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{next: h.next.WithGroup(name)}
}
