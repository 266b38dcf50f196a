package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/gateway"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/synth"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
	"github.com/infra-mind/infra-mind/pkg/webhook"
	"github.com/infra-mind/infra-mind/pkg/worker"
)

// Roles says which components a process hosts.
type Roles struct {
	Gateway     bool
	Families    []assessment.Family
	Synthesizer bool
}

// AllRoles hosts everything in one process (development).
func AllRoles() Roles {
	return Roles{Gateway: true, Families: assessment.Families(), Synthesizer: true}
}

// Deps are what the caller owns and passes in.
type Deps struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Metrics  *telemetry.Metrics
	// Keys is the gateway's token key ring: it signs tokens at sign-in and
	// verifies them. Nil means New builds it with NewGatewayKeys from the
	// configuration, unless Verifier is set (a gateway that only verifies).
	Keys *auth.KeyRing
	// Verifier checks bearer tokens at the gateway; nil means one on Keys.
	Verifier *auth.Verifier
}

// Platform is a process's connected components.
type Platform struct {
	cfg     Config
	roles   Roles
	log     *slog.Logger
	Bus     *bus.Bus
	Store   *store.Store
	Cache   *cache.Cache
	gateway *gateway.Server
	workers []*worker.Worker
	synth   *synth.Synthesizer
	hooks   *webhook.Dispatcher
	metrics *telemetry.Server

	// Keys is the gateway's token key ring (nil without a gateway, or when
	// Deps gave only a Verifier).
	Keys     *auth.KeyRing
	stopKeys func()
	// Identity is the gateway's sign-in service (nil without Keys); the
	// development command seeds its first users with it.
	Identity *identity.Service
}

// New connects what roles need and builds the components. The gateway, if
// hosted, is listening when New returns (GatewayAddr tells where).
func New(ctx context.Context, cfg Config, roles Roles, d Deps) (_ *Platform, err error) {
	if d.Logger == nil || d.Registry == nil || d.Metrics == nil {
		return nil, errors.New("platform: logger, registry and metrics are required")
	}
	if !roles.Gateway && !roles.Synthesizer && len(roles.Families) == 0 {
		return nil, errors.New("platform: no role to run")
	}
	p := &Platform{cfg: cfg, roles: roles, log: d.Logger}
	defer func() {
		if err != nil {
			p.Close(context.WithoutCancel(ctx))
		}
	}()

	p.Bus, err = bus.Connect(ctx, bus.Config{
		URL: cfg.NATSURL, Name: "infra-mind", Replicas: cfg.StreamReplicas, Logger: d.Logger,
		Observer: d.Metrics.Messages(),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	checks := []telemetry.Check{{Name: "nats", Fn: p.Bus.Ping}}

	if roles.Gateway || roles.Synthesizer {
		p.Store, err = store.Connect(ctx, cfg.Store.MongoURI, cfg.Store.MongoDatabase)
		if err != nil {
			return nil, fmt.Errorf("connect to the document store: %w", err)
		}
		checks = append(checks, telemetry.Check{Name: "store", Fn: p.Store.Ping})
	}
	if roles.Gateway {
		p.Cache, err = cache.Connect(ctx, cfg.Gateway.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("connect to Redis: %w", err)
		}
		checks = append(checks, telemetry.Check{Name: "redis", Fn: p.Cache.Ping})
	}

	wcfg := worker.Config{Concurrency: cfg.Concurrency, DrainTimeout: cfg.ShutdownTimeout}
	var an *analysis.Analyzer
	// The catalogue is loaded once and shared by the families and the
	// gateway's calculators.
	var cat *catalog.Catalog
	if len(roles.Families) > 0 || roles.Gateway {
		if cat, err = catalog.Load(); err != nil {
			return nil, fmt.Errorf("load the catalogue: %w", err)
		}
	}
	if len(roles.Families) > 0 {
		if an, err = analysis.New(cat); err != nil {
			return nil, err
		}
	}
	for _, f := range roles.Families {
		w, err := worker.New(f, p.Bus, an, d.Logger, wcfg)
		if err != nil {
			return nil, err
		}
		p.workers = append(p.workers, w)
	}
	if roles.Synthesizer {
		finished := d.Metrics.AssessmentsFinished
		p.synth, err = synth.New(p.Bus, p.Store, d.Logger, synth.Config{
			Concurrency:   cfg.Concurrency,
			DrainTimeout:  cfg.ShutdownTimeout,
			SweepInterval: cfg.Synth.SweepInterval,
		}, func(status string) { finished.WithLabelValues(status).Inc() })
		if err != nil {
			return nil, err
		}
		// The synthesizer publishes the events, so it also delivers them to webhooks.
		p.hooks, err = webhook.New(p.Bus, p.Store.Webhooks, d.Logger, webhook.Config{
			Policy:       webhook.Policy{AllowPrivate: cfg.Webhook.AllowPrivate},
			Timeout:      cfg.Webhook.Timeout,
			MaxAttempts:  cfg.Webhook.MaxAttempts,
			Concurrency:  cfg.Concurrency,
			DrainTimeout: cfg.ShutdownTimeout,
			Replicas:     cfg.StreamReplicas,
		})
		if err != nil {
			return nil, err
		}
	}
	if roles.Gateway {
		p.Keys = d.Keys
		if p.Keys == nil && d.Verifier == nil {
			if p.Keys, p.stopKeys, err = NewGatewayKeys(ctx, cfg, d.Logger); err != nil {
				return nil, err
			}
		}
		v := d.Verifier
		if v == nil {
			v = auth.NewRingVerifier(p.Keys, cfg.Gateway.AuthIssuer, cfg.Gateway.AuthAudience)
		}
		// With a signing key the gateway signs users in; a verifier-only
		// gateway (tests that pass one) accepts tokens and nothing else.
		if p.Keys != nil {
			if cfg.Gateway.AuthPurgeInterval < 0 {
				return nil, fmt.Errorf("IM_AUTH_PURGE_INTERVAL must not be negative (0 turns the purge off), got %s",
					cfg.Gateway.AuthPurgeInterval)
			}
			p.Identity, err = identity.New(p.Store, p.Cache.Client(), p.Keys.Signer(cfg.Gateway.AuthIssuer, cfg.Gateway.AuthAudience),
				identity.Options{AccessTTL: cfg.Gateway.AuthAccessTTL, RefreshTTL: cfg.Gateway.AuthRefreshTTL, Logger: d.Logger})
			if err != nil {
				return nil, fmt.Errorf("build identity service: %w", err)
			}
		}
		p.gateway, err = gateway.New(gateway.Config{
			Addr:              cfg.Gateway.HTTPAddr,
			BodyLimit:         cfg.Gateway.BodyLimitBytes,
			AssessmentTimeout: cfg.Gateway.AssessmentTimeout,
			KeepAlive:         cfg.Gateway.SSEKeepAlive,
			ReportCacheTTL:    cfg.Gateway.ReportCacheTTL,
			WebhookPolicy:     webhook.Policy{AllowPrivate: cfg.Webhook.AllowPrivate},
			TrustedProxies:    cfg.Gateway.TrustedProxies,
			Limits: gateway.Limits{
				TenantRequests: cfg.Gateway.RateLimitTenant, UserRequests: cfg.Gateway.RateLimitUser,
				ExpensiveRequests: cfg.Gateway.RateLimitExpensive, RateWindow: cfg.Gateway.RateLimitWindow,
				AuthRequests:         cfg.Gateway.RateLimitAuth,
				MaxActiveAssessments: cfg.Gateway.MaxActiveAssessments, CORSAllowedOrigins: cfg.Gateway.CORSAllowedOrigins,
			},
		}, gateway.Deps{
			Bus: p.Bus, Store: p.Store, Cache: p.Cache, Verifier: v, Logger: d.Logger,
			Metrics: d.Metrics, Registry: d.Registry, Checks: checks, Catalog: cat,
			Identity: p.Identity, Keys: p.Keys,
		})
		if err != nil {
			return nil, fmt.Errorf("build gateway: %w", err)
		}
		if err := p.gateway.Listen(); err != nil {
			return nil, fmt.Errorf("gateway listen on %s: %w", cfg.Gateway.HTTPAddr, err)
		}
	}
	if cfg.MetricsAddr != "" {
		p.metrics = telemetry.NewServer(cfg.MetricsAddr, d.Registry, checks...)
		if err := p.metrics.Listen(); err != nil {
			return nil, fmt.Errorf("metrics listen on %s: %w", cfg.MetricsAddr, err)
		}
	}
	return p, nil
}

// GatewayAddr is the gateway's bound address ("" without a gateway).
func (p *Platform) GatewayAddr() string {
	if p.gateway == nil {
		return ""
	}
	return p.gateway.Addr()
}

// MetricsAddr is the metrics server's bound address ("" without one).
func (p *Platform) MetricsAddr() string {
	if p.metrics == nil {
		return ""
	}
	return p.metrics.Addr()
}

// Run runs every hosted component until ctx is cancelled, then lets each
// drain within the shutdown timeout. The first component to fail stops the rest.
func (p *Platform) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if p.gateway != nil {
		g.Go(func() error { return p.gateway.Serve(ctx) })
	}
	if p.metrics != nil {
		g.Go(func() error { return p.metrics.Serve(ctx) })
	}
	for _, w := range p.workers {
		g.Go(func() error { return w.Run(ctx) })
	}
	if p.synth != nil {
		g.Go(func() error { return p.synth.Run(ctx) })
	}
	if p.hooks != nil {
		g.Go(func() error { return p.hooks.Run(ctx) })
	}
	// Every gateway replica purges expired sign-in data: the deletes are
	// idempotent, so replicas purging at once only share the work. Run
	// returns after the purge stops, so Close never pulls the store from
	// under it.
	if p.Identity != nil && p.cfg.Gateway.AuthPurgeInterval > 0 {
		g.Go(func() error {
			p.Identity.RunPurge(ctx, p.cfg.Gateway.AuthPurgeInterval)
			return nil
		})
	}
	return g.Wait()
}

// Close releases the connections; safe on a partly built platform.
func (p *Platform) Close(ctx context.Context) {
	if p.stopKeys != nil {
		p.stopKeys()
	}
	if p.Cache != nil {
		if err := p.Cache.Close(); err != nil {
			p.log.Warn("close redis", "error", err)
		}
	}
	if p.Store != nil {
		if err := p.Store.Close(ctx); err != nil {
			p.log.Warn("close store", "error", err)
		}
	}
	if p.Bus != nil {
		if err := p.Bus.Close(); err != nil {
			p.log.Warn("close nats", "error", err)
		}
	}
}
