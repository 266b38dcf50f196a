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

// schedulePurge asks for a purge when sess has expired (plus purgeGrace):
// its refresh tokens expire with it, and their use claims with them. A
// failure does not fail the sign-in: expired documents are refused on every
// read anyway, and the purge at the next gateway start removes them.
func (s *Service) schedulePurge(ctx context.Context, sess store.Session) {
	if s.opt.Purges == nil {
		return
	}
	if err := s.opt.Purges.SchedulePurge(ctx, sess.ExpiresAt.Add(purgeGrace)); err != nil {
		s.log.WarnContext(ctx, "purge of a session not scheduled; it is purged at the next gateway start",
			"session", sess.ID, "expires_at", sess.ExpiresAt, "error", err)
	}
}

// Purge runs PurgeExpired and logs what it removed, or its failure, which
// it returns: the caller retries (a purge that falls due is redelivered).
// Expired documents are refused on every read anyway, so a late purge costs
// only space.
func (s *Service) Purge(ctx context.Context) error {
	c, err := s.PurgeExpired(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: not worth a warning
		}
		s.log.WarnContext(ctx, "purge of expired sessions failed", "error", err,
			"sessions", c.Sessions, "refresh_tokens", c.RefreshTokens, "refresh_token_uses", c.RefreshUses)
		return err
	}
	level := slog.LevelInfo
	if c.Removed() == 0 && c.DatedUses == 0 {
		level = slog.LevelDebug // a purge that found nothing says nothing
	}
	s.log.Log(ctx, level, "purged expired sessions",
		"sessions", c.Sessions, "refresh_tokens", c.RefreshTokens, "refresh_token_uses", c.RefreshUses,
		"dated_refresh_token_uses", c.DatedUses)
	return nil
}
