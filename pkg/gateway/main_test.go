package gateway_test

import (
	"context"
	"os"
	"testing"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/gateway"
	"github.com/infra-mind/infra-mind/pkg/platform/gatewayrole"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// TestMain gives the gateway's tests on real servers the composition
// root's own wiring of the ports (gatewayrole.NewPorts), which they cannot
// import themselves.
func TestMain(m *testing.M) {
	gateway.RealPorts = func(ctx context.Context, b *bus.Bus, st *store.Store, c *cache.Cache) (gateway.Deps, error) {
		p, err := gatewayrole.NewPorts(ctx, b, st, c, gatewayrole.PortsConfig{})
		if err != nil {
			return gateway.Deps{}, err
		}
		return p.Deps(), nil
	}
	os.Exit(m.Run())
}
