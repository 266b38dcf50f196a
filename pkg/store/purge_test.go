package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// TestPurgeExpiredEmbeddedFerretDB runs the purge contract on the embedded
// FerretDB. A purge spans every tenant, so each subtest gets a database of
// its own on the one server.
func TestPurgeExpiredEmbeddedFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	runPurgeContract(t, func(t *testing.T, database string) *store.Store {
		t.Helper()
		s, err := store.Connect(t.Context(), stack.MongoURI, database)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return s
	})
}

// runPurgeContract is the behaviour of Sessions.PurgeExpired on any
// server; connect opens a store on the named database.
func runPurgeContract(t *testing.T, connect func(t *testing.T, database string) *store.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, connect func(t *testing.T, database string) *store.Store)
	}{
		{"expired documents of every tenant go; live ones, their claims and expired api keys stay", testPurgeExpired},
		{"claims from before claims carried an expiry are dated from their token", testPurgeUndatedUses},
		{"each call removes at most limit documents of a kind and says when more are left", testPurgeLimit},
		{"two processes purging at once remove each document once", testPurgeConcurrent},
		{"a purge without a time is refused", testPurgeValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, connect)
		})
	}
}

// purgeNow is the purge time of these tests; documents expire around it.
func purgeNow() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func createToken(t *testing.T, s *store.Store, tenant, session string, expires time.Time) store.RefreshToken {
	t.Helper()
	tok, err := s.Sessions.CreateRefresh(context.Background(), store.RefreshToken{ID: uniq("hash"), TenantID: tenant,
		UserID: "u1", SessionID: session, ExpiresAt: expires})
	require.NoError(t, err)
	return tok
}

func testPurgeExpired(t *testing.T, connect func(t *testing.T, database string) *store.Store) {
	s := connect(t, uniq("purge"))
	ctx := context.Background()
	now := purgeNow()
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	acme, globex := uniq("acme"), uniq("globex")

	gone := make([]store.Session, 0, 2)
	for _, tenant := range []string{acme, globex} {
		sess, err := s.Sessions.Create(ctx, newSession(tenant, "u1", past))
		require.NoError(t, err)
		gone = append(gone, sess)
	}
	live, err := s.Sessions.Create(ctx, newSession(acme, "u1", future))
	require.NoError(t, err)
	revoked, err := s.Sessions.Create(ctx, newSession(acme, "u2", future))
	require.NoError(t, err)
	require.NoError(t, s.Sessions.Revoke(ctx, acme, revoked.ID, now))

	// Expired: one used (so it has a claim) and one not, in two tenants.
	expiredUsed := createToken(t, s, acme, gone[0].ID, past)
	_, err = s.Sessions.UseRefresh(ctx, expiredUsed.ID, past.Add(-time.Second))
	require.NoError(t, err)
	expiredUnused := createToken(t, s, globex, gone[1].ID, past)
	// Live: the rotated one's claim is what catches its reuse.
	rotated := createToken(t, s, acme, live.ID, future)
	_, err = s.Sessions.UseRefresh(ctx, rotated.ID, now)
	require.NoError(t, err)
	current := createToken(t, s, acme, live.ID, future)

	keyExpiry := past
	key, err := s.APIKeys.Create(ctx, store.APIKey{ID: uniq("k"), TenantID: acme, Name: "ci", Role: "viewer",
		CreatedBy: "u1", ExpiresAt: &keyExpiry, SecretSHA256: "abc123"})
	require.NoError(t, err)

	c, err := s.Sessions.PurgeExpired(ctx, now, 0)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{Sessions: 2, RefreshTokens: 2, RefreshUses: 1}, c)

	for _, sess := range gone {
		_, err = s.Sessions.Get(ctx, sess.TenantID, sess.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "an expired session is removed")
	}
	for _, id := range []string{expiredUsed.ID, expiredUnused.ID} {
		_, err = s.Sessions.GetRefresh(ctx, id)
		require.ErrorIs(t, err, store.ErrNotFound, "an expired refresh token is removed")
	}
	// The expired token's claim went with it: presenting it again is an
	// unknown token, not a reuse.
	_, err = s.Sessions.UseRefresh(ctx, expiredUsed.ID, now)
	require.ErrorIs(t, err, store.ErrNotFound)

	_, err = s.Sessions.Get(ctx, acme, live.ID)
	require.NoError(t, err)
	got, err := s.Sessions.Get(ctx, acme, revoked.ID)
	require.NoError(t, err, "a revoked session stays until it expires")
	require.NotNil(t, got.RevokedAt)
	_, err = s.Sessions.UseRefresh(ctx, rotated.ID, now)
	require.ErrorIs(t, err, store.ErrRefreshUsed, "a rotated token that has not expired is still caught when reused")
	_, err = s.Sessions.UseRefresh(ctx, current.ID, now)
	require.NoError(t, err, "the current token of a live session still rotates")

	k, err := s.APIKeys.Get(ctx, acme, key.ID)
	require.NoError(t, err, "an expired api key is kept for its admins to see")
	require.True(t, keyExpiry.Equal(*k.ExpiresAt))

	again, err := s.Sessions.PurgeExpired(ctx, now, 0)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{}, again, "a second purge finds nothing")
}

func testPurgeUndatedUses(t *testing.T, connect func(t *testing.T, database string) *store.Store) {
	s := connect(t, uniq("purge"))
	ctx := context.Background()
	now := purgeNow()
	tenant := uniq("acme")
	live := createToken(t, s, tenant, uniq("s"), now.Add(time.Hour))
	expired := createToken(t, s, tenant, uniq("s"), now.Add(-time.Minute))
	missing := uniq("hash") // a token removed before its claim was dated

	// Claims as UseRefresh wrote them before they carried expires_at.
	uses := s.Database().Collection(store.CollRefreshUses)
	for _, id := range []string{live.ID, expired.ID, missing} {
		_, err := uses.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenant},
			{Key: "session_id", Value: "s"}, {Key: "at", Value: now.Add(-2 * time.Minute)}})
		require.NoError(t, err)
	}

	c, err := s.Sessions.PurgeExpired(ctx, now, 0)
	require.NoError(t, err)
	require.Equal(t, store.PurgeCounts{RefreshTokens: 1, RefreshUses: 2, DatedUses: 2}, c,
		"both stored tokens' claims are dated; the missing and the expired token's claims are removed")

	var claim struct {
		ExpiresAt time.Time `bson:"expires_at"`
	}
	require.NoError(t, uses.FindOne(ctx, bson.D{{Key: "_id", Value: live.ID}}).Decode(&claim))
	require.True(t, live.ExpiresAt.Equal(claim.ExpiresAt), "the claim expires with its token")
	for _, id := range []string{expired.ID, missing} {
		n, err := uses.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
		require.NoError(t, err)
		require.Zero(t, n, "claim %s is removed", id)
	}
	_, err = s.Sessions.UseRefresh(ctx, live.ID, now)
	require.ErrorIs(t, err, store.ErrRefreshUsed, "an undated claim of a live token still catches its reuse")
}

func testPurgeLimit(t *testing.T, connect func(t *testing.T, database string) *store.Store) {
	s := connect(t, uniq("purge"))
	ctx := context.Background()
	now := purgeNow()
	tenant := uniq("acme")
	for range 5 {
		sess, err := s.Sessions.Create(ctx, newSession(tenant, "u1", now.Add(-time.Minute)))
		require.NoError(t, err)
		createToken(t, s, tenant, sess.ID, now.Add(-time.Minute))
	}
	tests := []struct {
		name string
		want store.PurgeCounts
	}{
		{"first call", store.PurgeCounts{Sessions: 2, RefreshTokens: 2, More: true}},
		{"second call", store.PurgeCounts{Sessions: 2, RefreshTokens: 2, More: true}},
		{"last call", store.PurgeCounts{Sessions: 1, RefreshTokens: 1}},
	}
	for _, tc := range tests {
		c, err := s.Sessions.PurgeExpired(ctx, now, 2)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, c, tc.name)
	}
}

func testPurgeConcurrent(t *testing.T, connect func(t *testing.T, database string) *store.Store) {
	database := uniq("purge")
	stores := []*store.Store{connect(t, database), connect(t, database)}
	ctx := context.Background()
	now := purgeNow()
	tenant := uniq("acme")
	const n = 12
	for range n {
		sess, err := stores[0].Sessions.Create(ctx, newSession(tenant, "u1", now.Add(-time.Minute)))
		require.NoError(t, err)
		tok := createToken(t, stores[0], tenant, sess.ID, now.Add(-time.Minute))
		_, err = stores[0].Sessions.UseRefresh(ctx, tok.ID, now.Add(-2*time.Minute))
		require.NoError(t, err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total store.PurgeCounts
		errs  []error
	)
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := s.Sessions.PurgeExpired(ctx, now, 5)
				mu.Lock()
				total = total.Add(store.PurgeCounts{Sessions: c.Sessions, RefreshTokens: c.RefreshTokens, RefreshUses: c.RefreshUses})
				errs = append(errs, err)
				mu.Unlock()
				if err != nil || !c.More {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, store.PurgeCounts{Sessions: n, RefreshTokens: n, RefreshUses: n}, total,
		"every expired document is removed, and counted once")
}

func testPurgeValidation(t *testing.T, connect func(t *testing.T, database string) *store.Store) {
	s := connect(t, uniq("purge"))
	_, err := s.Sessions.PurgeExpired(context.Background(), time.Time{}, 10)
	require.ErrorIs(t, err, store.ErrInvalid)
}
