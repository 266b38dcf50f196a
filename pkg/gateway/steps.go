package gateway

import (
	"context"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// step starts a child span of the request's span for one step of handling
// it (checking the credential, spending the limits, ...), so a trace shows
// where a request's time goes. End it before calling the next handler: the
// steps are siblings under the request's span, never nested in each other.
func step(c echo.Context, name string) (context.Context, trace.Span) {
	ctx := c.Request().Context()
	return telemetry.ChildTracer(ctx, "gateway").Start(ctx, "gateway "+name)
}

// endStep ends a step's span, recording its error.
func endStep(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
