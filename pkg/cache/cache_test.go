package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/devstack"
)

// TestContractEmbeddedRedis runs the contract against devstack's
// Redis-protocol server, the one `make run` uses.
func TestContractEmbeddedRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)

	c, err := cache.Connect(ctx, stack.RedisURL)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })

	runContract(t, c)
}

func TestConnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
	}{
		{"malformed url", "http://[::1"},
		{"wrong scheme", "http://127.0.0.1:6379"},
		{"nothing listening", "redis://127.0.0.1:1/0?max_retries=-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, err := cache.Connect(ctx, tc.url)
			require.Error(t, err)
		})
	}
}

func TestConnectDoesNotEchoPassword(t *testing.T) {
	t.Parallel()
	_, err := cache.Connect(t.Context(), "redis://user:s3cr3t-pw@[bad/0")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cr3t-pw")
}

func TestKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tenant string
		parts  []string
		want   string
	}{
		{"tenant only", "acme", nil, "im:acme"},
		{"parts", "acme", []string{"assessment", "a1"}, "im:acme:assessment:a1"},
		{"other tenant differs", "globex", []string{"assessment", "a1"}, "im:globex:assessment:a1"},
		{"nothing is rejected", "", []string{""}, "im::"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, cache.Key(tc.tenant, tc.parts...))
		})
	}
}
