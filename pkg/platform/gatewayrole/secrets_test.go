package gatewayrole_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/gatewayrole"
	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// fakeKV is the content of the one KV v2 secret fakeKVv2 serves; put makes
// a new version, as `vault kv put` does.
type fakeKV struct {
	mu      sync.Mutex
	version int
	data    map[string]any
}

func newFakeKV(data map[string]any) *fakeKV { return &fakeKV{version: 1, data: data} }

func (f *fakeKV) put(data map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version++
	f.data = data
}

// fakeKVv2 is a FAKE of Vault's KV v2 HTTP API (health and one data path),
// enough to start and rotate the gateway's keys from it; pkg/secrets tests
// the provider's versions, rotation and failures against a fuller fake.
func fakeKVv2(t *testing.T, sealed bool, kv *fakeKV) string {
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
		case r.URL.Path == "/v1/secret/data/infra-mind" && r.Header.Get("X-Vault-Token") == "vault-token" && kv != nil:
			kv.mu.Lock()
			body := map[string]any{"data": map[string]any{
				"data": kv.data, "metadata": map[string]any{"version": kv.version},
			}}
			kv.mu.Unlock()
			_ = json.NewEncoder(w).Encode(body)
		default:
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []string{"permission denied"}})
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// syncBuffer is a log destination the watchers write to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// privatePEM encodes a key as PKCS#8 PEM, the format `infra-mind keygen`
// writes.
func privatePEM(t *testing.T, k ed25519.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// publicPEM is a bundle of the keys' public halves (PKIX PEM blocks).
func publicPEM(t *testing.T, keys ...ed25519.PrivateKey) string {
	t.Helper()
	var out []byte
	for _, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		require.NoError(t, err)
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return string(out)
}

func mustGenerate(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := auth.GenerateKey()
	require.NoError(t, err)
	return k
}

func keyID(k ed25519.PrivateKey) string { return auth.KeyID(k.Public().(ed25519.PublicKey)) }

// tokenKID is the kid header a token was signed under.
func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &auth.Claims{})
	require.NoError(t, err)
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

const (
	testIssuer      = "infra-mind"
	testAudience    = "infra-mind-api"
	privateSecret   = "auth_private_key"
	publicSecret    = "auth_public_keys"
	privateEnvVar   = "IM_SECRET_AUTH_PRIVATE_KEY"
	publicEnvVar    = "IM_SECRET_AUTH_PUBLIC_KEYS"
	testAccessTTL   = 15 * time.Minute
	testRefreshTick = 5 * time.Millisecond
)

func keysConfig() platform.Config {
	var c platform.Config
	c.Gateway.AuthIssuer, c.Gateway.AuthAudience = testIssuer, testAudience
	c.Gateway.AuthAccessTTL, c.Gateway.AuthKeyRefreshInterval = testAccessTTL, time.Minute
	c.Secrets.CacheTTL = time.Minute
	c.Secrets.VaultMount, c.Secrets.VaultPath = "secret", "infra-mind"
	return c
}

func TestNewGatewayKeys(t *testing.T) {
	t.Parallel()
	signing, prev := mustGenerate(t), mustGenerate(t)
	privPEM, bundlePEM := privatePEM(t, signing), publicPEM(t, prev)

	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	privFile, bundleFile := write("signing.pem", privPEM), write("previous.pub", bundlePEM)
	pubAsPrivFile := write("signing.pub", publicPEM(t, signing))
	secretDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(secretDir, privateSecret), []byte(privPEM), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(secretDir, publicSecret), []byte(bundlePEM), 0o600))
	tokenFile := write("vault-token", "vault-token\n")

	envProvider := func(c *platform.Config, vars map[string]string) {
		c.Secrets.Provider, c.Secrets.Env = gatewayrole.SecretsEnv, vars
	}
	tests := []struct {
		name string
		edit func(c *platform.Config)
		// bundle: the previous key is listed, so its tokens verify.
		bundle bool
		// wantErr is a sentinel the error wraps; wantMsg are phrases it
		// contains (the settings an operator must fix).
		wantErr error
		wantMsg []string
	}{
		{name: "private key file", edit: func(c *platform.Config) { c.Gateway.AuthPrivateKeyFile = privFile }},
		{name: "private key file and a public-key bundle file", bundle: true, edit: func(c *platform.Config) {
			c.Gateway.AuthPrivateKeyFile, c.Gateway.AuthPublicKeyFile = privFile, bundleFile
		}},
		{name: "env provider", edit: func(c *platform.Config) {
			envProvider(c, map[string]string{privateEnvVar: privPEM})
			c.Gateway.AuthPrivateKeySecret = privateSecret
		}},
		{name: "env provider: a blank bundle lists no keys", edit: func(c *platform.Config) {
			envProvider(c, map[string]string{privateEnvVar: privPEM, publicEnvVar: "\n"})
			c.Gateway.AuthPrivateKeySecret, c.Gateway.AuthPublicKeySecret = privateSecret, publicSecret
		}},
		{name: "file provider: key and bundle secrets", bundle: true, edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Secrets.Dir = gatewayrole.SecretsFile, secretDir
			c.Gateway.AuthPrivateKeySecret, c.Gateway.AuthPublicKeySecret = privateSecret, publicSecret
		}},
		{name: "vault provider (fake KV v2): key and bundle secrets", bundle: true, edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Secrets.VaultTokenFile = gatewayrole.SecretsVault, tokenFile
			c.Secrets.VaultAddr = fakeKVv2(t, false, newFakeKV(map[string]any{privateSecret: privPEM, publicSecret: bundlePEM}))
			c.Gateway.AuthPrivateKeySecret, c.Gateway.AuthPublicKeySecret = privateSecret, publicSecret
		}},
		{name: "neither private-key setting", edit: func(*platform.Config) {},
			wantMsg: []string{"IM_AUTH_PRIVATE_KEY_FILE or IM_AUTH_PRIVATE_KEY_SECRET", "is required"}},
		{name: "only a public key, as before the gateway signed", edit: func(c *platform.Config) { c.Gateway.AuthPublicKeyFile = bundleFile },
			wantMsg: []string{"IM_AUTH_PRIVATE_KEY_FILE or IM_AUTH_PRIVATE_KEY_SECRET"}},
		{name: "both private-key settings", edit: func(c *platform.Config) {
			envProvider(c, map[string]string{privateEnvVar: privPEM})
			c.Gateway.AuthPrivateKeyFile, c.Gateway.AuthPrivateKeySecret = privFile, privateSecret
		}, wantMsg: []string{"set one of IM_AUTH_PRIVATE_KEY_FILE and IM_AUTH_PRIVATE_KEY_SECRET"}},
		{name: "both public-key settings", edit: func(c *platform.Config) {
			envProvider(c, map[string]string{publicEnvVar: bundlePEM})
			c.Gateway.AuthPrivateKeyFile = privFile
			c.Gateway.AuthPublicKeyFile, c.Gateway.AuthPublicKeySecret = bundleFile, publicSecret
		}, wantMsg: []string{"set one of IM_AUTH_PUBLIC_KEY_FILE and IM_AUTH_PUBLIC_KEY_SECRET"}},
		{name: "private key file holds a public key", edit: func(c *platform.Config) { c.Gateway.AuthPrivateKeyFile = pubAsPrivFile },
			wantMsg: []string{"IM_AUTH_PRIVATE_KEY_FILE", `"PUBLIC KEY", want "PRIVATE KEY"`}},
		{name: "private key file missing", edit: func(c *platform.Config) { c.Gateway.AuthPrivateKeyFile = filepath.Join(dir, "none.pem") },
			wantErr: fs.ErrNotExist, wantMsg: []string{"IM_AUTH_PRIVATE_KEY_FILE"}},
		{name: "private key secret is not PEM", edit: func(c *platform.Config) {
			envProvider(c, map[string]string{privateEnvVar: "not a key"})
			c.Gateway.AuthPrivateKeySecret = privateSecret
		}, wantMsg: []string{"IM_AUTH_PRIVATE_KEY_SECRET auth_private_key (version sha256:", "no PEM block"}},
		{name: "bundle secret is not PEM", edit: func(c *platform.Config) {
			envProvider(c, map[string]string{privateEnvVar: privPEM, publicEnvVar: "not a key"})
			c.Gateway.AuthPrivateKeySecret, c.Gateway.AuthPublicKeySecret = privateSecret, publicSecret
		}, wantMsg: []string{"IM_AUTH_PUBLIC_KEY_SECRET auth_public_keys", "not a PEM block"}},
		{name: "bundle file holds a private key", edit: func(c *platform.Config) {
			c.Gateway.AuthPrivateKeyFile, c.Gateway.AuthPublicKeyFile = privFile, privFile
		}, wantMsg: []string{"IM_AUTH_PUBLIC_KEY_FILE", `"PRIVATE KEY", want "PUBLIC KEY"`}},
		{name: "secret named without a provider", edit: func(c *platform.Config) { c.Gateway.AuthPrivateKeySecret = privateSecret },
			wantMsg: []string{"IM_AUTH_PRIVATE_KEY_SECRET is set but IM_SECRETS_PROVIDER is not"}},
		{name: "bundle secret named without a provider", edit: func(c *platform.Config) {
			c.Gateway.AuthPrivateKeyFile, c.Gateway.AuthPublicKeySecret = privFile, publicSecret
		}, wantMsg: []string{"IM_AUTH_PUBLIC_KEY_SECRET is set but IM_SECRETS_PROVIDER is not"}},
		{name: "unknown provider", edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Gateway.AuthPrivateKeySecret = "consul", privateSecret
		}, wantMsg: []string{`IM_SECRETS_PROVIDER="consul"`}},
		{name: "vault sealed at start fails start", edit: func(c *platform.Config) {
			c.Secrets.Provider, c.Secrets.VaultTokenFile = gatewayrole.SecretsVault, tokenFile
			c.Secrets.VaultAddr = fakeKVv2(t, true, nil)
			c.Gateway.AuthPrivateKeySecret = privateSecret
		}, wantErr: secrets.ErrSealed},
		{name: "secret missing from the provider", edit: func(c *platform.Config) {
			envProvider(c, map[string]string{})
			c.Gateway.AuthPrivateKeySecret = privateSecret
		}, wantErr: secrets.ErrNotFound, wantMsg: []string{"IM_AUTH_PRIVATE_KEY_SECRET", privateEnvVar}},
		{name: "no access-token TTL", edit: func(c *platform.Config) {
			c.Gateway.AuthPrivateKeyFile, c.Gateway.AuthAccessTTL = privFile, 0
		}, wantMsg: []string{"IM_AUTH_ACCESS_TTL must be positive"}},
		{name: "no refresh interval with a secret", edit: func(c *platform.Config) {
			envProvider(c, map[string]string{privateEnvVar: privPEM})
			c.Gateway.AuthPrivateKeySecret, c.Gateway.AuthKeyRefreshInterval = privateSecret, 0
		}, wantMsg: []string{"IM_AUTH_KEY_REFRESH_INTERVAL must be positive"}},
	}
	prevTok, err := auth.NewSigner(prev, testIssuer, testAudience).Issue("user-a", "tenant-a", []string{auth.RoleOwner}, time.Hour)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := keysConfig()
			tt.edit(&cfg)
			ring, stop, err := gatewayrole.NewGatewayKeys(context.Background(), cfg, testLogger(io.Discard))
			if tt.wantErr != nil || tt.wantMsg != nil {
				require.Nil(t, ring)
				require.Error(t, err)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
				}
				for _, m := range tt.wantMsg {
					require.ErrorContains(t, err, m)
				}
				return
			}
			require.NoError(t, err)
			t.Cleanup(stop)
			require.Equal(t, keyID(signing), ring.CurrentKeyID())

			v := auth.NewRingVerifier(ring, testIssuer, testAudience)
			tok, err := ring.Signer(testIssuer, testAudience).Issue("user-a", "tenant-a", []string{auth.RoleOwner}, time.Hour)
			require.NoError(t, err)
			require.Equal(t, keyID(signing), tokenKID(t, tok))
			claims, err := v.Verify(tok)
			require.NoError(t, err)
			require.Equal(t, "tenant-a", claims.Tenant)

			_, err = v.Verify(prevTok)
			if tt.bundle {
				require.NoError(t, err, "a key of the bundle verifies")
			} else {
				require.ErrorIs(t, err, auth.ErrInvalidToken, "a key nobody listed does not verify")
			}
		})
	}
}

// TestNewGatewayKeysFollowsSecretRotation rotates the keys in a fake Vault
// the way an operator does and checks what callers notice: new tokens carry
// the new kid, tokens of the old key still verify, a bad version changes
// nothing, and a new bundle version is applied.
func TestNewGatewayKeysFollowsSecretRotation(t *testing.T) {
	t.Parallel()
	first, second, listed := mustGenerate(t), mustGenerate(t), mustGenerate(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "vault-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("vault-token\n"), 0o600))
	kv := newFakeKV(map[string]any{privateSecret: privatePEM(t, first), publicSecret: ""})

	cfg := keysConfig()
	cfg.Secrets.Provider, cfg.Secrets.VaultTokenFile = gatewayrole.SecretsVault, tokenFile
	cfg.Secrets.VaultAddr = fakeKVv2(t, false, kv)
	// Re-read often and do not cache, so the test waits for the watcher only.
	cfg.Secrets.CacheTTL, cfg.Gateway.AuthKeyRefreshInterval = time.Nanosecond, testRefreshTick
	cfg.Gateway.AuthPrivateKeySecret, cfg.Gateway.AuthPublicKeySecret = privateSecret, publicSecret
	logs := &syncBuffer{}
	ring, stop, err := gatewayrole.NewGatewayKeys(context.Background(), cfg, testLogger(logs))
	require.NoError(t, err)
	t.Cleanup(stop)
	signer, v := ring.Signer(testIssuer, testAudience), auth.NewRingVerifier(ring, testIssuer, testAudience)
	oldTok, err := signer.Issue("user-a", "tenant-a", []string{auth.RoleOwner}, testAccessTTL)
	require.NoError(t, err)
	require.Equal(t, keyID(first), tokenKID(t, oldTok))

	kv.put(map[string]any{privateSecret: privatePEM(t, second), publicSecret: ""})
	require.Eventually(t, func() bool { return ring.CurrentKeyID() == keyID(second) }, 10*time.Second, testRefreshTick,
		"the new version of the signing key is picked up")
	newTok, err := signer.Issue("user-a", "tenant-a", []string{auth.RoleOwner}, testAccessTTL)
	require.NoError(t, err)
	require.Equal(t, keyID(second), tokenKID(t, newTok), "new tokens carry the new kid")
	for _, tok := range []string{oldTok, newTok} {
		_, err := v.Verify(tok)
		require.NoError(t, err, "tokens of both keys verify while the old ones may still be in use")
	}
	var kids []string
	for _, k := range ring.JWKS().Keys {
		kids = append(kids, k.KeyID)
	}
	require.Equal(t, []string{keyID(second), keyID(first)}, kids)
	require.Contains(t, logs.String(), "rotated the token signing key")

	kv.put(map[string]any{privateSecret: "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n", publicSecret: ""})
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "not a usable key") }, 10*time.Second, testRefreshTick)
	require.Equal(t, keyID(second), ring.CurrentKeyID(), "a bad version leaves the signing key in place")

	listedTok, err := auth.NewSigner(listed, testIssuer, testAudience).Issue("user-a", "tenant-a", nil, testAccessTTL)
	require.NoError(t, err)
	_, err = v.Verify(listedTok)
	require.ErrorIs(t, err, auth.ErrInvalidToken)
	kv.put(map[string]any{privateSecret: privatePEM(t, second), publicSecret: publicPEM(t, listed)})
	require.Eventually(t, func() bool {
		_, err := v.Verify(listedTok)
		return err == nil
	}, 10*time.Second, testRefreshTick, "a key added to the bundle verifies")
	require.Equal(t, keyID(second), ring.CurrentKeyID(), "the same signing key in a new version is not a rotation")
}

func TestLoadWithSecretEnv(t *testing.T) {
	t.Parallel()
	load := gatewayrole.LoadWithSecretEnv(func() (platform.Config, error) { return platform.Config{}, nil },
		[]string{"IM_SECRET_LLM_API_KEY=k", "IM_NATS_URL=nats://x"})
	cfg, err := load()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"IM_SECRET_LLM_API_KEY": "k"}, cfg.Secrets.Env)
}
