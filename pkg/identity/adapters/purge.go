package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/infra-mind/infra-mind/pkg/bus"
)

// Publisher publishes one message; *bus.Bus is the real one.
type Publisher interface {
	Publish(ctx context.Context, m bus.Message) error
}

// BusPurges schedules purges of expired sign-in data as JetStream message
// schedules on the DEADLINES stream (identity.PurgeScheduler, ADR 0041).
// Times are rounded up to a multiple of every, so all the sessions that
// expire within one such span share one schedule: at most one purge per
// span in which something expires, and none while nothing does.
type BusPurges struct {
	pub    Publisher
	source string
	every  time.Duration
}

// NewBusPurges returns a scheduler publishing through pub; source is the
// CloudEvents source ("/services/gateway") and every the span purges are
// grouped by (IM_AUTH_PURGE_INTERVAL), at least a second.
func NewBusPurges(pub Publisher, source string, every time.Duration) (*BusPurges, error) {
	switch {
	case pub == nil:
		return nil, errors.New("identity adapters: a publisher is required")
	case source == "":
		return nil, errors.New("identity adapters: a CloudEvents source is required")
	case every < time.Second:
		return nil, fmt.Errorf("identity adapters: purges are grouped by at least a second, got %s", every)
	}
	return &BusPurges{pub: pub, source: source, every: every}, nil
}

// SchedulePurge schedules a purge at the first multiple of the span not
// before at (in hops of at most bus.PurgeHop). Scheduling the same time again stores it
// once (its message id is the time).
func (p *BusPurges) SchedulePurge(ctx context.Context, at time.Time) error {
	due := at.UTC().Truncate(p.every)
	if due.Before(at) {
		due = due.Add(p.every)
	}
	if err := p.pub.Publish(ctx, bus.PurgeSchedule(p.source, due, time.Now())); err != nil {
		return fmt.Errorf("schedule the purge of expired sign-in data at %s: %w", due.Format(time.RFC3339), err)
	}
	return nil
}
