//go:build integration

package budget_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/llm/budget"
)

// TestIntegrationBudgetsOnRedis runs the reserve and settle scripts on the
// server named by IM_TEST_REDIS_URL (the embedded server's Lua is not the
// real one): two replicas reserving at once cannot overspend, settling
// replaces the estimate, and a new UTC day starts a new count while the
// month keeps counting. Its tenant is random and its keys are deleted after.
func TestIntegrationBudgetsOnRedis(t *testing.T) {
	raw := os.Getenv("IM_TEST_REDIS_URL")
	if raw == "" {
		t.Fatal("IM_TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(raw)
	require.NoError(t, err, "IM_TEST_REDIS_URL")
	a, b := redis.NewClient(opt), redis.NewClient(opt) // two replicas' connections
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	tenant := "it-budget-" + hex.EncodeToString(rnd)
	t.Cleanup(func() {
		keys, err := a.Keys(context.Background(), "im:"+tenant+":*").Result()
		if err == nil && len(keys) > 0 {
			_ = a.Del(context.Background(), keys...).Err()
		}
	})

	// The clock runs two days ahead, five seconds before midnight, so the
	// keys' expiry times lie in the future for the real server.
	now := time.Now().UTC()
	start := time.Date(now.Year(), now.Month(), now.Day()+2, 23, 59, 55, 0, time.UTC)
	var mu sync.Mutex
	cur := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return cur }
	limits := budget.Limits{TokensPerDay: 5_000, TokensPerMonth: 1_000_000, USDPerDay: 1}
	prices := map[string]budget.Price{"p": {InputUSDPerMTok: 2.5, OutputUSDPerMTok: 10}}
	la, err := budget.New(a, limits, prices, budget.Options{Now: clock})
	require.NoError(t, err)
	lb, err := budget.New(b, limits, prices, budget.Options{Now: clock})
	require.NoError(t, err)

	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := la
			if i%2 == 1 {
				l = lb
			}
			r, err := l.Reserve(ctx, tenant, budget.Estimate{PromptTokens: 400, CompletionTokens: 100})
			if errors.Is(err, budget.ErrExceeded) {
				return
			}
			if err != nil {
				t.Errorf("reserve: %v", err)
				return
			}
			admitted.Add(1)
			// Settled with less than reserved: the budget's room grows back,
			// but only after every reservation above was decided.
			if err := r.Settle(ctx, "p", "m", 300, 100); err != nil {
				t.Errorf("settle: %v", err)
			}
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, admitted.Load(), int64(12), "at most 10 reservations of 500 fit 5,000 before settles free 100 each")
	require.GreaterOrEqual(t, admitted.Load(), int64(10))
	u, err := la.Usage(ctx, tenant)
	require.NoError(t, err)
	require.Equal(t, admitted.Load()*400, u.Day.Tokens, "each call settled at its reported 400 tokens")
	require.Zero(t, u.Day.InFlightTokens)
	// 300 x 2.5 + 100 x 10 per million = 0.00175 USD a call.
	require.InDelta(t, float64(admitted.Load())*0.00175, u.Day.USD, 1e-9)
	ttl, err := a.TTL(ctx, "im:"+tenant+":llm:usage:day:"+start.Format("2006-01-02")).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 48*time.Hour, "the day's key lives until an hour after its day")

	_, err = lb.Reserve(ctx, tenant, budget.Estimate{PromptTokens: 5_000})
	var ee *budget.ExceededError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, budget.TokensPerDay, ee.Budget)

	mu.Lock()
	cur = start.Add(10 * time.Second) // the next day
	mu.Unlock()
	r, err := lb.Reserve(ctx, tenant, budget.Estimate{PromptTokens: 4_500})
	require.NoError(t, err, "a new UTC day has a new day budget")
	require.NoError(t, r.Settle(ctx, "p", "m", 4_500, 0))
	u, err = la.Usage(ctx, tenant)
	require.NoError(t, err)
	require.Equal(t, int64(4_500), u.Day.Tokens)
	if start.Month() == start.Add(10*time.Second).Month() {
		require.Equal(t, admitted.Load()*400+4_500, u.Month.Tokens, "the month counts both days")
	} else {
		require.Equal(t, int64(4_500), u.Month.Tokens, "a new month starts its own count")
	}
}
