package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/cache"
)

// ProblemAssessmentRunning is an erasure asked of an assessment the pipeline
// is still writing.
const ProblemAssessmentRunning = problemBase + "assessment-running"

// Erasure sweep defaults (Config.ErasureSweepInterval, Config.ErasureGrace).
const (
	DefaultErasureSweepInterval = time.Minute
	DefaultErasureGrace         = app.DefaultErasureGrace
)

// deleteAssessment handles DELETE /v1/assessments/{id}: the right to
// erasure. 204 when erased; 404 for a missing, already erased or another
// tenant's id; 409 while it (or a child) is running.
func (s *Server) deleteAssessment(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.erase(c.Request().Context(), tenantOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// erase runs the erasure use case for the API route and the console's
// delete page alike.
func (s *Server) erase(ctx context.Context, tenant, id string) error {
	erased, err := s.erasure.Delete(ctx, tenant, id)
	if err != nil {
		return err
	}
	// The erased assessments ended before, but their ids may still hold a
	// slot of the active-assessment cap (capActive) until the next create
	// releases them: an id is all they hold, and it goes now.
	if s.prot != nil && s.prot.slots != nil {
		if err := s.prot.slots.Release(ctx, cache.Key(tenant, "active"), erased.IDs...); err != nil {
			s.log.WarnContext(ctx, "erased assessments' active slots not released; they expire at their deadline",
				slog.String("error", err.Error()))
		}
	}
	return nil
}

// consoleEraser is the console's delete page's way to the erasure.
type consoleEraser struct{ s *Server }

func (e consoleEraser) Erase(ctx context.Context, tenant, id string) error {
	return e.s.erase(ctx, tenant, id)
}

// runningProblem is the 409 of an erasure refused while the pipeline is
// still writing the assessment; Retry-After is its deadline, when it ends at
// the latest.
func runningProblem(re *app.RunningError, now time.Time) *Problem {
	secs := max(1, int((re.Deadline.Sub(now)+time.Second-1)/time.Second))
	which := "The assessment"
	if re.ID != "" {
		which = fmt.Sprintf("Assessment %s", re.ID)
	}
	p := problem(http.StatusConflict, ProblemAssessmentRunning, "Assessment still running",
		fmt.Sprintf("%s is %s and the pipeline is still writing it; nothing was erased. Retry after it finishes, within %d seconds (%s).",
			which, re.Status, secs, assessmentURL(re.ID)))
	p.header = http.Header{headerRetryAfter: {strconv.Itoa(secs)}}
	return p
}

// erasureProblem maps the erasure's errors (appProblem calls it).
func erasureProblem(err error) *Problem {
	var re *app.RunningError
	if errors.As(err, &re) {
		return runningProblem(re, time.Now())
	}
	return nil
}

// RunErasureSweep erases again, every interval, what writers already running
// when an assessment was erased stored after it (app.Erasure.Sweep), until
// ctx ends. Every gateway replica may run it: the erasure is idempotent.
func (s *Server) RunErasureSweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.ErasureSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.erasure.Sweep(ctx, s.cfg.ErasureGrace)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.WarnContext(ctx, "erasure sweep failed", slog.String("error", err.Error()))
			case n > 0:
				s.log.InfoContext(ctx, "erased assessments swept again", slog.Int("count", n))
			}
		}
	}
}

// newErasure builds the erasure use case on d's ports.
func newErasure(d Deps, logger *slog.Logger) (*app.Erasure, error) {
	e, err := app.NewErasure(app.ErasureDeps{Assessments: d.Assessments, Store: d.ErasureStore, Broker: d.ErasureBroker,
		Cache: d.ReportCache, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return e, nil
}
