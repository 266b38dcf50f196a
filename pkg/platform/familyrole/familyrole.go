// Package familyrole hosts agent families: one worker per family on the
// shared broker, over the catalogue loaded once. It links the bus, the
// worker and the advisor core, and nothing a family never runs.
package familyrole

import (
	"context"
	"fmt"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/worker"
)

// Role hosts the families' workers, loading the catalogue itself.
func Role(families ...assessment.Family) platform.Role {
	return func(_ context.Context, h *platform.Host) error {
		cat, err := catalog.Load()
		if err != nil {
			return fmt.Errorf("load the catalogue: %w", err)
		}
		return Add(h, cat, families)
	}
}

// Add builds a worker per family on cat and adds it to h.
func Add(h *platform.Host, cat *catalog.Catalog, families []assessment.Family) error {
	if len(families) == 0 {
		return nil
	}
	an, err := analysis.New(cat)
	if err != nil {
		return err
	}
	cfg := worker.Config{Concurrency: h.Config.Concurrency, DrainTimeout: h.Config.ShutdownTimeout}
	for _, f := range families {
		w, err := worker.New(f, h.Bus, an, h.Logger, cfg)
		if err != nil {
			return err
		}
		h.WatchConsumer(w.Subscription().Stream, worker.DurableName(f))
		h.Go(w.Run)
	}
	return nil
}
