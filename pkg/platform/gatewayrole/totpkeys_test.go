package gatewayrole_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/gatewayrole"
	"github.com/infra-mind/infra-mind/pkg/secrets"
)

func TestNewTOTPKeys(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	line, err := identity.NewTOTPKeyLine("k1")
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "totp.keys")
	require.NoError(t, os.WriteFile(file, []byte(line+"\n"), 0o600))
	bad := filepath.Join(t.TempDir(), "bad.keys")
	require.NoError(t, os.WriteFile(bad, []byte("k1:short\n"), 0o600))

	cfg := func(edit func(g *platform.GatewayConfig, s *platform.SecretsConfig)) platform.Config {
		c := platform.Config{Gateway: platform.GatewayConfig{AuthKeyRefreshInterval: time.Minute}, Secrets: platform.SecretsConfig{CacheTTL: time.Second}}
		edit(&c.Gateway, &c.Secrets)
		return c
	}
	ring, err := gatewayrole.NewTOTPKeys(ctx, cfg(func(*platform.GatewayConfig, *platform.SecretsConfig) {}), nil)
	require.NoError(t, err)
	require.Nil(t, ring, "neither setting: no key set")

	ring, err = gatewayrole.NewTOTPKeys(ctx, cfg(func(g *platform.GatewayConfig, _ *platform.SecretsConfig) { g.AuthTOTPKeysFile = file }), nil)
	require.NoError(t, err)
	require.Equal(t, "k1", ring.Keys().Current())

	ring, err = gatewayrole.NewTOTPKeys(ctx, cfg(func(g *platform.GatewayConfig, s *platform.SecretsConfig) {
		g.AuthTOTPKeysSecret = "totp_keys"
		s.Provider, s.Env = gatewayrole.SecretsEnv, map[string]string{secrets.EnvVar("totp_keys"): line}
	}), nil)
	require.NoError(t, err)
	require.Equal(t, "k1", ring.Keys().Current())

	for _, tc := range []struct {
		name string
		edit func(g *platform.GatewayConfig, s *platform.SecretsConfig)
		want string
	}{
		{name: "both", edit: func(g *platform.GatewayConfig, _ *platform.SecretsConfig) {
			g.AuthTOTPKeysFile, g.AuthTOTPKeysSecret = file, "totp_keys"
		}, want: "set one of IM_AUTH_TOTP_KEYS_FILE and IM_AUTH_TOTP_KEYS_SECRET"},
		{name: "missing file", edit: func(g *platform.GatewayConfig, _ *platform.SecretsConfig) {
			g.AuthTOTPKeysFile = file + ".gone"
		}, want: "IM_AUTH_TOTP_KEYS_FILE"},
		{name: "bad file", edit: func(g *platform.GatewayConfig, _ *platform.SecretsConfig) {
			g.AuthTOTPKeysFile = bad
		}, want: "want 32 bytes"},
		{name: "secret without a provider", edit: func(g *platform.GatewayConfig, _ *platform.SecretsConfig) {
			g.AuthTOTPKeysSecret = "totp_keys"
		}, want: "IM_SECRETS_PROVIDER is not"},
		{name: "secret not there", edit: func(g *platform.GatewayConfig, s *platform.SecretsConfig) {
			g.AuthTOTPKeysSecret = "totp_keys"
			s.Provider, s.Env = gatewayrole.SecretsEnv, map[string]string{}
		}, want: "IM_AUTH_TOTP_KEYS_SECRET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := gatewayrole.NewTOTPKeys(ctx, cfg(tc.edit), nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
