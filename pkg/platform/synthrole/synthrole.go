// Package synthrole hosts the synthesizer: it gathers the families' results
// into reports on the document store and, since it publishes the events,
// delivers them to webhooks.
package synthrole

import (
	"context"
	"fmt"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
	"github.com/infra-mind/infra-mind/pkg/synth"
	"github.com/infra-mind/infra-mind/pkg/webhook"
)

// Role hosts the synthesizer, connecting the document store itself.
func Role() platform.Role {
	return func(ctx context.Context, h *platform.Host) error {
		st, err := ConnectStore(ctx, h)
		if err != nil {
			return err
		}
		return Add(ctx, h, st)
	}
}

// ConnectStore connects the document store and makes it part of h (its
// readiness check and its close).
func ConnectStore(ctx context.Context, h *platform.Host) (*store.Store, error) {
	commands := h.Metrics.StoreCommands
	st, err := store.Connect(ctx, h.Config.Store.MongoURI, h.Config.Store.MongoDatabase,
		store.CountCommands(func(c string) { commands.WithLabelValues(c).Inc() }))
	if err != nil {
		return nil, fmt.Errorf("connect to the document store: %w", err)
	}
	h.Adopt("store", st.Ping, st.Close)
	rm, err := readmodel.Use(ctx, h.Bus.JS, st, h.Logger)
	if err != nil {
		return nil, err
	}
	// Assessments stored before the read model existed: copied once.
	h.Go(rm.BackfillTask(st.Database(), h.Logger))
	return st, nil
}

// Add builds the synthesizer and the webhook dispatcher on st and adds them to h.
func Add(ctx context.Context, h *platform.Host, st *store.Store) error {
	cfg := h.Config
	finished, requests := h.Metrics.AssessmentsFinished, h.Metrics.StateRequests
	s, err := synth.New(ctx, h.Bus, st, h.Logger, synth.Config{
		Concurrency:  cfg.Concurrency,
		DrainTimeout: cfg.ShutdownTimeout,
		Progress:     []progress.Option{progress.CountOps(func(op string) { requests.WithLabelValues(op).Inc() })},
		StallAfter:   cfg.Synth.StallAfter,
	}, func(status string) { finished.WithLabelValues(status).Inc() })
	if err != nil {
		return err
	}
	hooks, err := webhook.New(h.Bus, st.Webhooks, h.Logger, webhook.Config{
		Policy:       webhook.Policy{AllowPrivate: cfg.Webhook.AllowPrivate},
		Timeout:      cfg.Webhook.Timeout,
		MaxAttempts:  cfg.Webhook.MaxAttempts,
		Concurrency:  cfg.Concurrency,
		DrainTimeout: cfg.ShutdownTimeout,
		Replicas:     cfg.StreamReplicas,
	})
	if err != nil {
		return err
	}
	h.WatchConsumer(bus.StreamResults, synth.DurableName)
	h.Go(s.Run)
	h.Go(hooks.Run)
	return nil
}
