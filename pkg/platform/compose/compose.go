// Package compose hosts any set of roles in one process: `infra-mind dev`
// runs every role on embedded servers, and the end-to-end tests run the
// pipeline with the roles they need. It links every role, so no deployed
// service imports it; each of those hosts its roles through platform.Main.
package compose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/consultantrole"
	"github.com/infra-mind/infra-mind/pkg/platform/familyrole"
	"github.com/infra-mind/infra-mind/pkg/platform/gatewayrole"
	"github.com/infra-mind/infra-mind/pkg/platform/synthrole"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
)

// Roles says which components a process hosts.
type Roles struct {
	Gateway     bool
	Families    []assessment.Family
	Synthesizer bool
	// Consultant runs only when the configuration names a language model
	// provider (consultantrole.Enabled); otherwise it adds nothing.
	Consultant bool
}

// localCopiesBudget bounds the JSON kept of the messages a process's roles
// publish for its other roles to copy instead of decoding
// (bus.Config.LocalCopies): the example's results of about 90 assessments
// (364 KB each), two seconds at the embedded default's sustained rate.
const localCopiesBudget = 32 << 20

// localCopies is the bus's LocalCopies budget: only roles sharing the
// process consume what it publishes, so one role alone keeps nothing.
func (r Roles) localCopies(consult bool) int {
	n := len(r.Families)
	for _, on := range []bool{r.Gateway, r.Synthesizer, consult} {
		if on {
			n++
		}
	}
	if n < 2 {
		return 0
	}
	return localCopiesBudget
}

// AllRoles hosts everything in one process (development).
func AllRoles() Roles {
	return Roles{Gateway: true, Families: assessment.Families(), Synthesizer: true, Consultant: true}
}

// Deps are what the caller owns and passes in.
type Deps struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Metrics  *telemetry.Metrics
	// Keys is the gateway's token key ring: it signs tokens at sign-in and
	// verifies them. Nil means New builds it with gatewayrole.NewGatewayKeys
	// from the configuration, unless Verifier is set (a gateway that only verifies).
	Keys *auth.KeyRing
	// Verifier checks bearer tokens at the gateway; nil means one on Keys.
	Verifier *auth.Verifier
	// TracerProvider makes the roles' spans (nil: the global provider).
	TracerProvider trace.TracerProvider
	// NATSInProcess is the broker when it runs in this process (the
	// embedded default); nil connects to the configured URL over TCP.
	NATSInProcess nats.InProcessConnProvider
}

// Platform is a process's connected components.
type Platform struct {
	host  *platform.Host
	Bus   *bus.Bus
	Store *store.Store
	Cache *cache.Cache
	gw    *gatewayrole.Gateway

	// Keys is the gateway's token key ring (nil without a gateway, or when
	// Deps gave only a Verifier).
	Keys *auth.KeyRing
	// Identity is the gateway's sign-in service (nil without Keys); the
	// development command seeds its first users with it.
	Identity *identity.Service
}

// New connects what roles need and builds the components, sharing one
// broker, store and cache connection between them. The gateway, if hosted,
// is listening when New returns (GatewayAddr tells where).
func New(ctx context.Context, cfg platform.Config, roles Roles, d Deps) (_ *Platform, err error) {
	consult := roles.Consultant && consultantrole.Enabled(cfg)
	if !roles.Gateway && !roles.Synthesizer && !consult && len(roles.Families) == 0 {
		return nil, errors.New("platform: no role to run")
	}
	h, err := platform.NewHost(ctx, cfg, platform.Deps{
		Logger: d.Logger, Registry: d.Registry, Metrics: d.Metrics, TracerProvider: d.TracerProvider,
		NATSInProcess: d.NATSInProcess, LocalCopies: roles.localCopies(consult),
	})
	if err != nil {
		return nil, err
	}
	p := &Platform{host: h, Bus: h.Bus}
	defer func() {
		if err != nil {
			p.Close(context.WithoutCancel(ctx))
		}
	}()

	if roles.Gateway || roles.Synthesizer || consult {
		if p.Store, err = synthrole.ConnectStore(ctx, h); err != nil {
			return nil, err
		}
	}
	// The consultant counts the tenants' language model use in Redis too.
	if roles.Gateway || consult {
		if p.Cache, err = gatewayrole.ConnectCache(ctx, h); err != nil {
			return nil, err
		}
	}
	// The catalogue is loaded once and shared by the families and the
	// gateway's calculators.
	var cat *catalog.Catalog
	if len(roles.Families) > 0 || roles.Gateway {
		if cat, err = catalog.Load(); err != nil {
			return nil, fmt.Errorf("load the catalogue: %w", err)
		}
	}
	if err := familyrole.Add(h, cat, roles.Families); err != nil {
		return nil, err
	}
	if roles.Synthesizer {
		if err := synthrole.Add(ctx, h, p.Store); err != nil {
			return nil, err
		}
	}
	if consult {
		if err := consultantrole.Add(ctx, h, p.Store, p.Cache); err != nil {
			return nil, err
		}
	}
	if roles.Gateway {
		p.gw, err = gatewayrole.Add(ctx, h, gatewayrole.Deps{
			Store: p.Store, Cache: p.Cache, Catalog: cat, Keys: d.Keys, Verifier: d.Verifier,
		})
		if err != nil {
			return nil, err
		}
		p.Keys, p.Identity = p.gw.Keys, p.gw.Identity
	}
	if err := h.ServeMetrics(); err != nil {
		return nil, err
	}
	return p, nil
}

// GatewayAddr is the gateway's bound address ("" without a gateway).
func (p *Platform) GatewayAddr() string {
	if p.gw == nil {
		return ""
	}
	return p.gw.Server.Addr()
}

// MetricsAddr is the metrics server's bound address ("" without one).
func (p *Platform) MetricsAddr() string { return p.host.MetricsAddr() }

// Run runs every hosted component until ctx is cancelled, then lets each
// drain within the shutdown timeout. The first component to fail stops the rest.
func (p *Platform) Run(ctx context.Context) error { return p.host.Run(ctx) }

// Close releases the connections; safe on a partly built platform.
func (p *Platform) Close(ctx context.Context) { p.host.Close(ctx) }
