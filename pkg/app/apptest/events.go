package apptest

import (
	"context"
	"slices"
	"sync"

	"github.com/infra-mind/infra-mind/pkg/app"
)

// EventLog is an in-memory app.EventLog with the EVENTS stream's rules: one
// sequence across every tenant and assessment, starting at 1 and never
// reused; Follow replays after a position and then waits for new events.
type EventLog struct {
	mu     sync.Mutex
	seq    uint64
	events []storedEvent
	// grew is closed and replaced whenever an event is appended.
	grew chan struct{}
}

type storedEvent struct {
	tenant, id string
	app.Event
}

// NewEventLog returns an empty log.
func NewEventLog() *EventLog {
	return &EventLog{grew: make(chan struct{})}
}

// Append stores an event of the assessment and returns its position.
func (l *EventLog) Append(tenant, id string, kind app.EventKind, data []byte) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	l.events = append(l.events, storedEvent{tenant: tenant, id: id, Event: app.Event{Seq: l.seq, Kind: kind, Data: slices.Clone(data)}})
	close(l.grew)
	l.grew = make(chan struct{})
	return l.seq
}

// Last returns the position of the assessment's last event of kind.
func (l *EventLog) Last(_ context.Context, tenant, id string, kind app.EventKind) (uint64, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.events) - 1; i >= 0; i-- {
		e := l.events[i]
		if e.tenant == tenant && e.id == id && e.Kind == kind {
			return e.Seq, true, nil
		}
	}
	return 0, false, nil
}

// Follow hands out the assessment's events after position after, then
// waits for new ones until ctx ends.
func (l *EventLog) Follow(ctx context.Context, tenant, id string, after uint64, fn func(app.Event) error, kinds ...app.EventKind) error {
	next := 0 // index into events of the first not yet looked at
	for {
		l.mu.Lock()
		pending := slices.Clone(l.events[next:])
		next = len(l.events)
		grew := l.grew
		l.mu.Unlock()
		for _, e := range pending {
			if e.tenant != tenant || e.id != id || e.Seq <= after || (len(kinds) > 0 && !slices.Contains(kinds, e.Kind)) {
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			ev := e.Event
			ev.Data = slices.Clone(ev.Data)
			if err := fn(ev); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-grew:
		}
	}
}
