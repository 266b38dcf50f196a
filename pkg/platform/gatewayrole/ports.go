package gatewayrole

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/infra-mind/infra-mind/pkg/app"
	"github.com/infra-mind/infra-mind/pkg/app/adapters"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/console"
	"github.com/infra-mind/infra-mind/pkg/gateway"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/ratelimit"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// openTimeout bounds binding to the pipeline state's and the erasure's
// buckets at start.
const openTimeout = 10 * time.Second

// defaultReportCacheTTL is IM_REPORT_CACHE_TTL's default (platform.GatewayConfig).
const defaultReportCacheTTL = 5 * time.Minute

// PortsConfig tunes the real adapters.
type PortsConfig struct {
	// ReportCacheTTL is how long a report stays in the Redis cache; 0 takes
	// five minutes, the default of IM_REPORT_CACHE_TTL.
	ReportCacheTTL time.Duration
	// MaxInFlight bounds the deployment's assessments in flight, counted on
	// the broker; 0: no bound.
	MaxInFlight int
}

// Ports are the gateway's use-case ports on the real servers.
type Ports struct {
	Assessments   app.Assessments
	Queue         app.Queue
	Admission     app.Admission
	Events        app.EventLog
	ErasureStore  app.ErasureStore
	ErasureBroker app.ErasureBroker
	Store         gateway.Stores
	ReportCache   gateway.ReportCache
	Limiter       gateway.Limiter
	Slots         gateway.Slots
	Challenges    console.Challenges
}

// Deps are the gateway's dependencies with these ports set; the caller
// adds the rest (the verifier, the telemetry, identity, the language model
// and its ledger).
func (p Ports) Deps() gateway.Deps {
	return gateway.Deps{Assessments: p.Assessments, Queue: p.Queue, Admission: p.Admission, Events: p.Events,
		ErasureStore: p.ErasureStore, ErasureBroker: p.ErasureBroker, Store: p.Store, ReportCache: p.ReportCache,
		Limiter: p.Limiter, Slots: p.Slots, Challenges: p.Challenges}
}

// NewPorts builds the gateway's ports on NATS (b), the document store (st)
// and Redis (c).
func NewPorts(ctx context.Context, b *bus.Bus, st *store.Store, c *cache.Cache, cfg PortsConfig) (Ports, error) {
	if b == nil || st == nil || c == nil {
		return Ports{}, errors.New("the gateway's ports need the bus, the store and the cache")
	}
	if cfg.ReportCacheTTL <= 0 {
		cfg.ReportCacheTTL = defaultReportCacheTTL
	}
	var p Ports
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	// An assessment's document is written when it closes; while it runs its
	// progress is read from the pipeline state (ADR 0029).
	state, err := progress.Open(octx, b.JS)
	if err != nil {
		return Ports{}, err
	}
	if p.Assessments, err = adapters.NewLiveAssessments(st.Assessments, state); err != nil {
		return Ports{}, err
	}
	if p.Queue, err = adapters.NewBusQueue(b, gateway.Source); err != nil {
		return Ports{}, err
	}
	if cfg.MaxInFlight > 0 {
		if p.Admission, err = adapters.NewBrokerAdmission(b, cfg.MaxInFlight, 0); err != nil {
			return Ports{}, err
		}
	}
	if p.Events, err = adapters.NewJetStreamEvents(b); err != nil {
		return Ports{}, err
	}
	p.ErasureStore = adapters.StoreErasure{Store: st}
	if p.ErasureBroker, err = adapters.NewBrokerErasure(octx, b); err != nil {
		return Ports{}, err
	}
	p.Store = gateway.Stores{Reports: st.Reports, Recommendations: st.Recommendations, Narratives: st.Narratives,
		Webhooks: st.Webhooks, Audit: st.Audit, Conversations: st.Conversations}
	if p.ReportCache, err = adapters.NewRedisReportCache(c, cfg.ReportCacheTTL); err != nil {
		return Ports{}, err
	}
	p.Limiter = ratelimit.NewLimiter(c.Client())
	p.Slots = ratelimit.NewSlots(c.Client())
	if p.Challenges, err = console.NewRedisChallenges(c.Client()); err != nil {
		return Ports{}, fmt.Errorf("console: %w", err)
	}
	return p, nil
}
