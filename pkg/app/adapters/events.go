package adapters

import (
	"context"
	"errors"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/bus"
)

// StreamReader reads a JetStream stream by subject; *bus.Bus is the real one.
type StreamReader interface {
	ReplayFrom(ctx context.Context, stream, subject string, afterSeq uint64, fn func(e *bus.Event) error) error
	LastSeq(ctx context.Context, stream, subject string) (uint64, bool, error)
}

// JetStreamEvents is the app.EventLog of the EVENTS stream (ADR 0002): an
// event's position is its stream sequence, and an assessment's events are
// the messages on its status and completed subjects, read through an
// ordered consumer filtered on them.
type JetStreamEvents struct {
	r StreamReader
}

// NewJetStreamEvents returns the event log read through r.
func NewJetStreamEvents(r StreamReader) (*JetStreamEvents, error) {
	if r == nil {
		return nil, errors.New("adapters: a stream reader is required")
	}
	return &JetStreamEvents{r: r}, nil
}

// subject is the EVENTS subject of the assessment's events of kinds (every
// progress event when kinds is not exactly one kind).
func subject(tenant, id string, kinds []app.EventKind) string {
	if len(kinds) == 1 {
		switch kinds[0] {
		case app.EventStatus:
			return bus.SubjectStatus(tenant, id)
		case app.EventCompleted:
			return bus.SubjectCompleted(tenant, id)
		}
	}
	return bus.SubjectAssessmentEvents(tenant, id)
}

// kindOf is the progress kind of a CloudEvents type, false for any other.
func kindOf(ceType string) (app.EventKind, bool) {
	switch ceType {
	case bus.TypeStatusChanged:
		return app.EventStatus, true
	case bus.TypeAssessmentCompleted:
		return app.EventCompleted, true
	}
	return "", false
}

// Last returns the stream sequence of the assessment's last event of kind.
func (j *JetStreamEvents) Last(ctx context.Context, tenant, id string, kind app.EventKind) (uint64, bool, error) {
	return j.r.LastSeq(ctx, bus.StreamEvents, subject(tenant, id, []app.EventKind{kind}))
}

// Follow replays the assessment's events after the stream sequence after,
// then follows the stream. A message on the assessment's subjects of a
// type other than the progress events, or of a kind not asked for, is
// skipped.
func (j *JetStreamEvents) Follow(ctx context.Context, tenant, id string, after uint64, fn func(app.Event) error, kinds ...app.EventKind) error {
	want := func(k app.EventKind) bool {
		if len(kinds) == 0 {
			return true
		}
		for _, w := range kinds {
			if w == k {
				return true
			}
		}
		return false
	}
	return j.r.ReplayFrom(ctx, bus.StreamEvents, subject(tenant, id, kinds), after, func(e *bus.Event) error {
		kind, ok := kindOf(e.Type)
		if !ok || !want(kind) {
			return nil
		}
		return fn(app.Event{Seq: e.StreamSeq, Kind: kind, Data: e.Data})
	})
}
