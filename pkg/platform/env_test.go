package platform

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEnvMetricsAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{name: "unset takes the default", environ: nil, want: ":9090"},
		{name: "empty turns metrics off", environ: []string{"IM_METRICS_ADDR="}, want: ""},
		{name: "a value is used", environ: []string{"IM_METRICS_ADDR=127.0.0.1:9191"}, want: "127.0.0.1:9191"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseEnv(tt.environ)()
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.MetricsAddr)
		})
	}
}

// Two services on one host, both told IM_METRICS_ADDR is empty, start
// without an operations listener instead of colliding on the default port.
func TestEmptyMetricsAddrOpensNoListener(t *testing.T) {
	t.Parallel()
	for range 2 {
		cfg, err := ParseEnv([]string{"IM_METRICS_ADDR="})()
		require.NoError(t, err)
		h := &Host{Config: cfg}
		require.NoError(t, h.ServeMetrics())
		require.Empty(t, h.MetricsAddr(), "no listener")
		h.Close(context.Background())
	}
}
