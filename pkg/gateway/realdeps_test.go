package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/ratelimit"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// realDeps are the gateway's ports on real servers, built as the
// composition root (platform/gatewayrole.NewPorts) builds them, which this
// package's tests cannot import: NATS (b), the document store (st) and
// Redis (ch), with no bound on the assessments in flight and a 5-minute
// report cache.
func realDeps(t *testing.T, b *bus.Bus, st *store.Store, ch *cache.Cache) Deps {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	state, err := progress.Open(ctx, b.JS)
	require.NoError(t, err)
	var d Deps
	d.Assessments, err = adapters.NewLiveAssessments(st.Assessments, state)
	require.NoError(t, err)
	d.Queue, err = adapters.NewBusQueue(b, Source)
	require.NoError(t, err)
	d.Events, err = adapters.NewJetStreamEvents(b)
	require.NoError(t, err)
	d.ErasureStore = adapters.StoreErasure{Store: st}
	d.ErasureBroker, err = adapters.NewBrokerErasure(ctx, b)
	require.NoError(t, err)
	d.Store = Stores{Reports: st.Reports, Recommendations: st.Recommendations, Narratives: st.Narratives,
		Webhooks: st.Webhooks, Audit: st.Audit, Conversations: st.Conversations}
	d.ReportCache, err = adapters.NewRedisReportCache(ch, 5*time.Minute)
	require.NoError(t, err)
	d.Limiter, d.Slots = ratelimit.NewLimiter(ch.Client()), ratelimit.NewSlots(ch.Client())
	d.Challenges, err = console.NewRedisChallenges(ch.Client())
	require.NoError(t, err)
	d.LLMBudget, err = budget.New(ch.Client(), budget.Limits{}, nil, budget.Options{})
	require.NoError(t, err)
	return d
}
