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

// Propagator is the W3C TraceContext and Baggage propagator trace context crosses HTTP and message
// boundaries with. Code that extracts or injects trace context uses it rather than the global one, so a
// process that never installs globals (a test, the benchmark's embedded deployment) still joins traces.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// SetupTracing builds the TracerProvider of service, installs it and Propagator as the globals (for
// libraries that trace with them) and returns it, for the caller to pass to its components.
//
// endpoint is the OTLP/HTTP collector base URL (for example "http://otel-collector:4318"); spans are
// batched and exported to endpoint + "/v1/traces". With endpoint "" nothing is exported, but spans are
// still created with real ids so logs keep correlating across services.
//
// Sampling follows the parent: a request or message whose trace context says sampled (a client that
// traces, the benchmark's followed assessments) is recorded and exported in every service it reaches,
// one that says not sampled is not. A trace this service starts itself is sampled with probability
// rootRatio (0 none, 1 all, the services' default as in OpenTelemetry's parentbased_always_on); with
// endpoint "" it is not sampled whatever rootRatio says, since nothing would export it. A deployment
// that only wants the traces its clients ask for (the benchmark) sets rootRatio 0, and the export then
// costs nothing under load. Unsampled spans keep their real ids, so logs still correlate.
//
// The returned shutdown flushes pending spans and stops the provider; call it once, with a context that
// bounds how long the flush may take.
func SetupTracing(ctx context.Context, service, endpoint string, rootRatio float64) (trace.TracerProvider, func(context.Context) error, error) {
	if strings.TrimSpace(service) == "" {
		return nil, nil, errors.New("setup tracing: empty service name")
	}
	if rootRatio < 0 || rootRatio > 1 {
		return nil, nil, fmt.Errorf("setup tracing: root sampling ratio %g is not between 0 and 1", rootRatio)
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(service)),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("setup tracing: build resource for %s: %w", service, err)
	}

	if endpoint == "" {
		rootRatio = 0
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(Sampler(rootRatio)),
	}
	if endpoint != "" {
		exporter, err := newOTLPExporter(ctx, endpoint)
		if err != nil {
			return nil, nil, fmt.Errorf("setup tracing: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exporter))
	}

	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())

	shutdown := func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("shutdown tracing: %w", err)
		}
		return nil
	}
	return tp, shutdown, nil
}

// Sampler is the services' sampler: the parent's decision where there is a parent (local or remote),
// and a trace started here sampled with probability rootRatio.
func Sampler(rootRatio float64) sdktrace.Sampler {
	return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(rootRatio))
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

// ChildTracer returns the named tracer of the provider that made ctx's span, for the steps of a piece
// of work whose span a caller started: the steps join the trace on the same provider, with no global.
// Without a span in ctx it is a no-op tracer.
func ChildTracer(ctx context.Context, name string) trace.Tracer {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(name)
}
