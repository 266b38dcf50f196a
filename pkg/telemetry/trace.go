package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// otlpTracesPath is the OTLP/HTTP path for trace exports, appended to the collector base URL as the
// OTLP exporter specification does for OTEL_EXPORTER_OTLP_ENDPOINT
// (https://opentelemetry.io/docs/specs/otel/protocol/exporter/#endpoint-urls-for-otlphttp).
const otlpTracesPath = "/v1/traces"

// SetupTracing installs the global TracerProvider for service and the W3C TraceContext and Baggage
// propagator, so trace context crosses HTTP and message boundaries.
//
// endpoint is the OTLP/HTTP collector base URL (for example "http://otel-collector:4318"); spans are
// batched and exported to endpoint + "/v1/traces". With endpoint "" nothing is exported, but spans are
// still created with real ids so logs keep correlating across services.
//
// The returned shutdown flushes pending spans and stops the provider; call it once, with a context that
// bounds how long the flush may take.
func SetupTracing(ctx context.Context, service, endpoint string) (func(context.Context) error, error) {
	if strings.TrimSpace(service) == "" {
		return nil, errors.New("setup tracing: empty service name")
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(service)),
	)
	if err != nil {
		return nil, fmt.Errorf("setup tracing: build resource for %s: %w", service, err)
	}

	// ParentBased keeps an upstream caller's sampling decision; root spans are always sampled because
	// the volume is one trace per assessment step, and the collector can tail-sample if needed.
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	}
	if endpoint != "" {
		exporter, err := newOTLPExporter(ctx, endpoint)
		if err != nil {
			return nil, fmt.Errorf("setup tracing: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exporter))
	}

	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{},
		propagation.Baggage{},
	))

	shutdown := func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("shutdown tracing: %w", err)
		}
		return nil
	}
	return shutdown, nil
}

// newOTLPExporter builds an OTLP/HTTP exporter for a collector base URL. The URL is parsed here instead of
// with otlptracehttp.WithEndpointURL because that option uses the path as given and would post to "/"
// for the usual "http://host:4318" form.
func newOTLPExporter(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("parse OTLP endpoint: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("OTLP endpoint %q: scheme must be http or https", redactURL(u))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("OTLP endpoint %q: missing host", redactURL(u))
	}
	path := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(path, otlpTracesPath) {
		path += otlpTracesPath
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpoint(u.Host),
		otlptracehttp.WithURLPath(path),
	}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OTLP exporter for %s: %w", redactURL(u), err)
	}
	return exporter, nil
}

// redactURL renders u without credentials, so configuration errors never print a secret.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// Tracer returns the named tracer from the global provider installed by SetupTracing. Before SetupTracing
// runs it returns a no-op tracer, so code can trace unconditionally.
func Tracer(name string) trace.Tracer {
	return otel.Tracer(name)
}
