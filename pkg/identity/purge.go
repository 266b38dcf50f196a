package identity

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// purgeBatch bounds each store call of a purge, so no single delete holds
// the database for long however large the backlog.
const purgeBatch = store.DefaultPurgeLimit

// purgeGrace keeps documents for this long past their expiry, so a replica
// whose clock is behind this one's still finds a token it would accept and
// catches its reuse.
const purgeGrace = time.Minute

// PurgeExpired removes the sessions, refresh tokens and refresh-token use
// claims that expired (by the service's clock, less purgeGrace), in
// batches until none are left or ctx ends, and returns what it removed.
// Reuse detection is kept: a use claim goes only with its expired token
// (see store.Sessions.PurgeExpired).
//
// Several gateway replicas may run it at the same moment: each delete is
// idempotent and re-checks expiry, so they only share the work.
func (s *Service) PurgeExpired(ctx context.Context) (store.PurgeCounts, error) {
	before := s.now().Add(-purgeGrace)
	var total store.PurgeCounts
	for {
		c, err := s.st.Sessions.PurgeExpired(ctx, before, purgeBatch)
		total = total.Add(c)
		if err != nil {
			return total, fmt.Errorf("identity: purge expired: %w", err)
		}
		if !c.More {
			total.More = false
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("identity: purge expired: %w", err)
		}
	}
}

// RunPurge calls PurgeExpired at once and then every interval until ctx
// ends, logging what each run removed. A failed run is logged and the next
// one tries again: expired documents are refused on every read anyway, so
// a late purge costs only space. An interval that is not positive turns
// the purge off (RunPurge returns at once).
func (s *Service) RunPurge(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	// At once, not after the first interval: a process restarted more often
	// than that would otherwise never purge.
	s.purgeOnce(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.purgeOnce(ctx)
		}
	}
}

func (s *Service) purgeOnce(ctx context.Context) {
	c, err := s.PurgeExpired(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: not a failure
		}
		s.log.WarnContext(ctx, "purge of expired sessions failed; retrying at the next interval", "error", err,
			"sessions", c.Sessions, "refresh_tokens", c.RefreshTokens, "refresh_token_uses", c.RefreshUses)
		return
	}
	level := slog.LevelInfo
	if c.Removed() == 0 && c.DatedUses == 0 {
		level = slog.LevelDebug // an idle hourly line says nothing
	}
	s.log.Log(ctx, level, "purged expired sessions",
		"sessions", c.Sessions, "refresh_tokens", c.RefreshTokens, "refresh_token_uses", c.RefreshUses,
		"dated_refresh_token_uses", c.DatedUses)
}
