//go:build integration

package identity_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// TestIntegrationIdentity runs the flows against the real servers named by
// IM_TEST_MONGO_URI (FerretDB v1.24 on PostgreSQL in CI) and
// IM_TEST_REDIS_URL. The flows that move Redis's clock or stop it run on
// miniredis only (TestLogin, TestTokens).
func TestIntegrationIdentity(t *testing.T) {
	uri, redisURL := os.Getenv("IM_TEST_MONGO_URI"), os.Getenv("IM_TEST_REDIS_URL")
	if uri == "" || redisURL == "" {
		t.Fatal("IM_TEST_MONGO_URI and IM_TEST_REDIS_URL must be set")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := store.Connect(ctx, uri, uniq("identity_it"))
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		require.NoError(t, st.Database().Drop(cctx))
		require.NoError(t, st.Close(cctx))
	})
	opt, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(ctx).Err())

	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"sign-in", testLoginOK},
		{"lockout", testLockout},
		{"lockout of an unknown email", testLockoutUnknownEmail},
		{"MFA", testMFA},
		{"MFA lockout", testMFALockout},
		{"refresh reuse", testRefreshReuse},
		{"refresh race", testRefreshRace},
		{"logout", testLogout},
		{"revoke user sessions", testRevokeUserSessions},
		{"tenant isolation", testUserIsolation},
		{"last owner", testLastOwner},
		{"api key revoke", testAPIKeyRevoke},
		{"api key expiry", testAPIKeyExpiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newEnvWith(t, st, rdb))
		})
	}
}
