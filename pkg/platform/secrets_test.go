package platform_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// fakeKVv2 is a FAKE of Vault's KV v2 HTTP API (health and one data path),
// enough to start the gateway's verifier from it; pkg/secrets tests the
// provider's versions, rotation and failures against a fuller fake.
func fakeKVv2(t *testing.T, sealed bool, data map[string]any) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/sys/health":
			code := http.StatusOK
			if sealed {
				code = 299 // the sealedcode the client asks for
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]any{"initialized": true, "sealed": sealed})
		case r.URL.Path == "/v1/secret/data/infra-mind" && r.Header.Get("X-Vault-Token") == "vault-token":
			_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
				"data": data, "metadata": map[string]any{"version": 7},
			}})
		default:
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []string{"permission denied"}})
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestNewGatewayVerifier(t *testing.T) {
	t.Parallel()
	priv, err := auth.GenerateKey()
	require.NoError(t, err)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "auth.pub.pem")
	require.NoError(t, auth.WritePublicKeyPEM(keyFile, priv.Public().(ed25519.PublicKey)))
	pemBytes, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	secretDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(secretDir, "auth_public_key"), pemBytes, 0o600))
	tokenFile := filepath.Join(dir, "vault-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("vault-token\n"), 0o600))

	other, err := auth.GenerateKey()
	require.NoError(t, err)
	otherFile := filepath.Join(dir, "other.pub.pem")
	require.NoError(t, auth.WritePublicKeyPEM(otherFile, other.Public().(ed25519.PublicKey)))

	base := func() platform.Config {
		var c platform.Config
		c.Gateway.AuthIssuer, c.Gateway.AuthAudience = "infra-mind", "infra-mind-api"
		c.Secrets.CacheTTL = time.Minute
		c.Secrets.VaultMount, c.Secrets.VaultPath = "secret", "infra-mind"
		return c
	}
	tests := []struct {
		name       string
		edit       func(c *platform.Config)
		wantErr    error // a sentinel the error must wrap
		wantAnyErr bool
		rejects    bool // builds, but with another key: the token fails
	}{
		{name: "key file (the default)", edit: func(c *platform.Config) { c.Gateway.AuthPublicKeyFile = keyFile }},
		{name: "another key file rejects the token", edit: func(c *platform.Config) { c.Gateway.AuthPublicKeyFile = otherFile }, rejects: true},
		{name: "env provider", edit: func(c *platform.Config) {
			c.Secrets.Provider = platform.SecretsEnv
			c.Secrets.Env = map[string]string{"IM_SECRET_AUTH_PUBLIC_KEY": string(pemBytes)}
			c.Gateway.AuthPublicKeySecret = "auth_public_key"
		}},
		{name: "file provider", edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Secrets.Dir = platform.SecretsFile, secretDir
			c.Gateway.AuthPublicKeySecret = "auth_public_key"
		}},
		{name: "vault provider (fake KV v2)", edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Secrets.VaultTokenFile = platform.SecretsVault, tokenFile
			c.Secrets.VaultAddr = fakeKVv2(t, false, map[string]any{"auth_public_key": string(pemBytes)})
			c.Gateway.AuthPublicKeySecret = "auth_public_key"
		}},
		{name: "vault sealed at start fails start", edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Secrets.VaultTokenFile = platform.SecretsVault, tokenFile
			c.Secrets.VaultAddr = fakeKVv2(t, true, nil)
			c.Gateway.AuthPublicKeySecret = "auth_public_key"
		}, wantErr: secrets.ErrSealed},
		{name: "secret missing from the provider", edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Secrets.Env = platform.SecretsEnv, map[string]string{}
			c.Gateway.AuthPublicKeySecret = "auth_public_key"
		}, wantErr: secrets.ErrNotFound},
		{name: "secret is not a PEM key", edit: func(c *platform.Config) {
			c.Secrets.Provider = platform.SecretsEnv
			c.Secrets.Env = map[string]string{"IM_SECRET_AUTH_PUBLIC_KEY": "not a key"}
			c.Gateway.AuthPublicKeySecret = "auth_public_key"
		}, wantAnyErr: true},
		{name: "secret named without a provider", edit: func(c *platform.Config) { c.Gateway.AuthPublicKeySecret = "auth_public_key" }, wantAnyErr: true},
		{name: "unknown provider", edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Gateway.AuthPublicKeySecret = "consul", "auth_public_key"
		}, wantAnyErr: true},
		{name: "neither file nor secret", edit: func(*platform.Config) {}, wantAnyErr: true},
	}
	signer := auth.NewSigner(priv, "infra-mind", "infra-mind-api")
	tok, err := signer.Issue("user-a", "tenant-a", []string{"owner"}, time.Hour)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base()
			tt.edit(&cfg)
			v, err := platform.NewGatewayVerifier(context.Background(), cfg)
			if tt.wantErr != nil || tt.wantAnyErr {
				require.Error(t, err)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
				}
				return
			}
			require.NoError(t, err)
			claims, err := v.Verify(tok)
			if tt.rejects {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "tenant-a", claims.Tenant)
		})
	}
}

func TestLoadWithSecretEnv(t *testing.T) {
	t.Parallel()
	load := platform.LoadWithSecretEnv(func() (platform.Config, error) { return platform.Config{}, nil },
		[]string{"IM_SECRET_LLM_API_KEY=k", "IM_NATS_URL=nats://x"})
	cfg, err := load()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"IM_SECRET_LLM_API_KEY": "k"}, cfg.Secrets.Env)
}
