package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// decodeLines parses every JSON line the logger wrote.
func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "line %q", sc.Text())
		out = append(out, rec)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestNewLoggerTraceCorrelation(t *testing.T) {
	t.Parallel()

	// A local provider (not the global one) keeps this test independent of SetupTracing tests.
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	spanCtx, span := tp.Tracer("test").Start(context.Background(), "work")
	defer span.End()

	tests := []struct {
		name      string
		ctx       context.Context
		wantTrace bool
	}{
		{name: "span in context", ctx: spanCtx, wantTrace: true},
		{name: "no span", ctx: context.Background(), wantTrace: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logger, err := telemetry.NewLogger(&buf, "cloud", "info")
			require.NoError(t, err)

			logger.InfoContext(tc.ctx, "planned capacity", slog.Int("gpus", 8))

			lines := decodeLines(t, &buf)
			require.Len(t, lines, 1)
			rec := lines[0]
			require.Equal(t, "planned capacity", rec["msg"])
			require.Equal(t, "INFO", rec["level"])
			require.Equal(t, "cloud", rec["service"])
			require.EqualValues(t, 8, rec["gpus"])
			if tc.wantTrace {
				sc := span.SpanContext()
				require.Equal(t, sc.TraceID().String(), rec["trace_id"])
				require.Equal(t, sc.SpanID().String(), rec["span_id"])
			} else {
				require.NotContains(t, rec, "trace_id")
				require.NotContains(t, rec, "span_id")
			}
		})
	}
}

func TestNewLoggerLevels(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		level     string
		wantErr   bool
		wantLines int // lines written when logging one record at each of debug, info, warn, error
	}{
		{name: "debug", level: "debug", wantLines: 4},
		{name: "info", level: "info", wantLines: 3},
		{name: "warn upper case", level: "WARN", wantLines: 2},
		{name: "error", level: "error", wantLines: 1},
		{name: "unknown", level: "verbose", wantErr: true},
		{name: "empty", level: "", wantErr: true},
		{name: "numeric", level: "-4", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logger, err := telemetry.NewLogger(&buf, "gateway", tc.level)
			if tc.wantErr {
				require.Error(t, err)
				require.Nil(t, logger)
				return
			}
			require.NoError(t, err)
			ctx := context.Background()
			logger.DebugContext(ctx, "d")
			logger.InfoContext(ctx, "i")
			logger.WarnContext(ctx, "w")
			logger.ErrorContext(ctx, "e")
			require.Len(t, decodeLines(t, &buf), tc.wantLines)
		})
	}
}

func TestNewLoggerKeepsAttrsAcrossWith(t *testing.T) {
	t.Parallel()

	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "work")
	defer span.End()

	var buf bytes.Buffer
	logger, err := telemetry.NewLogger(&buf, "synthesizer", "debug")
	require.NoError(t, err)
	logger.With(slog.String("assessment", "a-1")).DebugContext(ctx, "report stored")

	lines := decodeLines(t, &buf)
	require.Len(t, lines, 1)
	require.Equal(t, "a-1", lines[0]["assessment"])
	require.Equal(t, "synthesizer", lines[0]["service"])
	require.Equal(t, span.SpanContext().TraceID().String(), lines[0]["trace_id"])
}

// TestNewLoggerRedactsCredentials: a credential handed to a service's logger
// is masked in the written line, whatever attribute or message carries it.
func TestNewLoggerRedactsCredentials(t *testing.T) {
	t.Parallel()
	const (
		apiKey = "imk_abcdefghijk2_Q2hhbmdlIG1lIGlmIHlvdSBjYW4gcmVhZCB0aGlzLg0"
		secret = "a-password-without-shape"
	)
	var buf bytes.Buffer
	logger, err := telemetry.NewLogger(&buf, "gateway", "info")
	require.NoError(t, err)
	logger.With(slog.String("password", secret)).Info("http request",
		slog.String("path", "/v1/api-keys/"+apiKey), slog.String("authorization", "Bearer "+apiKey))

	written := buf.String() // decodeLines drains buf
	require.NotContains(t, written, apiKey)
	require.NotContains(t, written, secret)
	lines := decodeLines(t, &buf)
	require.Len(t, lines, 1)
	require.Equal(t, "/v1/api-keys/imk_abcdefghijk2_[REDACTED]", lines[0]["path"])
	require.Equal(t, "[REDACTED]", lines[0]["password"])
}
