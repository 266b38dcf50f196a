package app

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// step starts a child span of ctx's for one step of a use case (admission,
// scheduling the deadline, storing, queueing), so a request's trace shows
// where its time goes.
func step(ctx context.Context, name string) (context.Context, trace.Span) {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer("app").Start(ctx, "submit "+name)
}

// endStep ends a step's span, recording its error.
func endStep(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
