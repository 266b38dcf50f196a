package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// EventKind is what a progress event says: a status change or the
// assessment's completion.
type EventKind string

// The progress event kinds.
const (
	EventStatus    EventKind = "status"
	EventCompleted EventKind = "completed"
)

// Event is one stored progress event of an assessment: its position in the
// log (the Server-Sent Events id a client resumes from), its kind and its
// data exactly as it was published.
type Event struct {
	Seq  uint64
	Kind EventKind
	Data []byte
}

// EventLog is the assessments' retained progress events, in the order they
// were stored; adapters.JetStreamEvents (the EVENTS stream) is the real one.
// Positions grow with every event stored and are never reused. Every call is
// scoped to one tenant's assessment: another's events are never returned.
type EventLog interface {
	// Last returns the position of the assessment's last retained event of
	// kind, and false when none is retained.
	Last(ctx context.Context, tenant, id string, kind EventKind) (uint64, bool, error)
	// Follow calls fn with the assessment's retained events after position
	// after (of the kinds given, every kind when none is), oldest first, then
	// with each new one as it is stored, until ctx ends (nil) or fn or the
	// log fails (that error).
	Follow(ctx context.Context, tenant, id string, after uint64, fn func(Event) error, kinds ...EventKind) error
}

// ErrNoMoreEvents is a progress stream with nothing left to send: the
// client has seen every event of a finished assessment, or every one the
// log still holds of an assessment whose completed event will not come.
var ErrNoMoreEvents = errors.New("app: no more progress events")

// DefaultCompletedWait is how long after an assessment closed its progress
// stream waits for the completed event when ProgressOptions leaves it zero.
const DefaultCompletedWait = 2 * time.Minute

// ProgressOptions tunes the progress use case. Zero values take the defaults.
type ProgressOptions struct {
	// CompletedWait is how long after an assessment closed its stream waits
	// for the completed event (DefaultCompletedWait). The synthesizer
	// publishes it just after closing the assessment, or on the redelivery
	// after its ack deadline when it stopped in between.
	CompletedWait time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// ReplayBound bounds sending the retained events of an assessment whose
	// completed event will not come (10s): they are stored already, so this
	// only guards against a log that changes underneath.
	ReplayBound time.Duration
}

// Progress runs the live-progress use case: an assessment's stored events
// after the last one a client saw, then the new ones as they are stored,
// until the completed event. Every event it hands out is a stored one, with
// its position: none is ever made up from the assessment document (ADR 0016).
type Progress struct {
	assessments Assessments
	events      EventLog
	wait        time.Duration
	now         func() time.Time
	replayBound time.Duration
}

// NewProgress returns the progress use case.
func NewProgress(assessments Assessments, events EventLog, opt ProgressOptions) (*Progress, error) {
	switch {
	case assessments == nil:
		return nil, errors.New("app: an assessment repository is required")
	case events == nil:
		return nil, errors.New("app: an event log is required")
	}
	if opt.CompletedWait <= 0 {
		opt.CompletedWait = DefaultCompletedWait
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ReplayBound <= 0 {
		opt.ReplayBound = 10 * time.Second
	}
	return &Progress{assessments: assessments, events: events, wait: opt.CompletedWait, now: opt.Now, replayBound: opt.ReplayBound}, nil
}

// Stream is one client's progress stream. Events delivers its events in
// order and is closed when the stream ends: after the completed event, when
// the wait for it runs out, when the context given to Open ends, or when the
// log fails (Err then says why).
type Stream struct {
	events chan Event
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Events returns the stream's events; the channel is closed when it ends.
func (s *Stream) Events() <-chan Event { return s.events }

// Err returns why the stream ended early, once Events is closed: nil when
// it ended after the completed event, at the end of the wait or with its
// context.
func (s *Stream) Err() error {
	<-s.done
	return s.err
}

// Close ends the stream and waits for it to stop reading the log.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
}

// Open starts the progress stream of one of tenant's assessments for a
// client that has seen up to position lastID (0: none). A missing or other
// tenant's assessment is store.ErrNotFound (wrapped); ErrNoMoreEvents means
// there is nothing more to send, so the client should stop asking.
//
// The synthesizer closes an assessment in the store before its completed
// event is stored (its outputs follow its store writes, ADR 0014), so a
// closed assessment's log may not hold it yet: the stream follows the log
// for it until CompletedWait after the close. Past that the event will not
// come (or is no longer retained): the stream sends the status events the
// log holds, with their positions, and ends.
func (p *Progress) Open(ctx context.Context, tenant, id string, lastID uint64) (*Stream, error) {
	a, err := p.assessments.Get(ctx, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("get assessment %s: %w", id, err)
	}
	if !assessment.Status(a.Status).Terminal() {
		return p.start(ctx, func(ctx context.Context, emit func(Event) error) error {
			return p.follow(ctx, tenant, id, lastID, emit)
		}), nil
	}
	completed, found, err := p.events.Last(ctx, tenant, id, EventCompleted)
	if err != nil {
		return nil, fmt.Errorf("look up completed event of %s: %w", id, err)
	}
	if found {
		if lastID >= completed {
			// The client has seen the end: 204, so EventSource stops
			// reconnecting (HTML Living Standard, server-sent events).
			return nil, ErrNoMoreEvents
		}
		return p.start(ctx, func(ctx context.Context, emit func(Event) error) error {
			return p.follow(ctx, tenant, id, lastID, emit)
		}), nil
	}
	closedAt := a.CompletedAt
	if closedAt.IsZero() {
		closedAt = a.UpdatedAt
	}
	until := closedAt.Add(p.wait)
	if p.now().Before(until) {
		return p.start(ctx, func(ctx context.Context, emit func(Event) error) error {
			ctx, cancel := context.WithDeadline(ctx, until)
			defer cancel()
			return p.follow(ctx, tenant, id, lastID, emit)
		}), nil
	}
	upTo, found, err := p.events.Last(ctx, tenant, id, EventStatus)
	if err != nil {
		return nil, fmt.Errorf("look up last status event of %s: %w", id, err)
	}
	if !found || upTo <= lastID {
		return nil, ErrNoMoreEvents
	}
	return p.start(ctx, func(ctx context.Context, emit func(Event) error) error {
		return p.replay(ctx, tenant, id, lastID, upTo, emit)
	}), nil
}

// errCompleted ends a follow after the completed event was handed out.
var errCompleted = errors.New("completed")

// follow hands out the assessment's events after lastID, then the new
// ones, until the completed event.
func (p *Progress) follow(ctx context.Context, tenant, id string, lastID uint64, emit func(Event) error) error {
	err := p.events.Follow(ctx, tenant, id, lastID, func(e Event) error {
		if err := emit(e); err != nil {
			return err
		}
		if e.Kind == EventCompleted {
			return errCompleted
		}
		return nil
	})
	if errors.Is(err, errCompleted) {
		return nil
	}
	return err
}

// errReplayed ends a replay at the last retained status event.
var errReplayed = errors.New("replayed")

// replay hands out the retained status events after lastID up to upTo.
func (p *Progress) replay(ctx context.Context, tenant, id string, lastID, upTo uint64, emit func(Event) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.replayBound)
	defer cancel()
	err := p.events.Follow(ctx, tenant, id, lastID, func(e Event) error {
		if err := emit(e); err != nil {
			return err
		}
		if e.Seq >= upTo {
			return errReplayed
		}
		return nil
	}, EventStatus)
	if errors.Is(err, errReplayed) {
		return nil
	}
	return err
}

// start runs read in its own goroutine, handing its events to the stream.
func (p *Progress) start(ctx context.Context, read func(context.Context, func(Event) error) error) *Stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{events: make(chan Event), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		defer cancel()
		err := read(ctx, func(e Event) error {
			select {
			case s.events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && ctx.Err() == nil {
			s.err = err
		}
	}()
	return s
}
