package secrets_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/secrets"
	"github.com/infra-mind/infra-mind/pkg/secrets/vault"
)

const (
	mount = "secret"
	path  = "infra-mind/gateway"
)

func newVault(t *testing.T, addr, token string) *vault.Provider {
	t.Helper()
	v, err := vault.New(vault.Config{Addr: addr, Token: token, Mount: mount, Path: path, Timeout: 5 * time.Second})
	require.NoError(t, err)
	return v
}

func TestVaultVersions(t *testing.T) {
	t.Parallel()
	f, srv := newFakeVault(t, mount, path, "tok")
	f.put(map[string]any{"auth_public_key": "pem-1"})
	f.put(map[string]any{"auth_public_key": "pem-2"})
	v := newVault(t, srv.URL, "tok")
	ctx := context.Background()
	require.NoError(t, v.Ping(ctx))

	tests := []struct {
		name        string
		version     int // 0 = latest
		want, wantV string
		wantErr     error
	}{
		{name: "latest", want: "pem-2", wantV: "2"},
		{name: "version 1", version: 1, want: "pem-1", wantV: "1"},
		{name: "version 2", version: 2, want: "pem-2", wantV: "2"},
		{name: "a version that does not exist", version: 3, wantErr: secrets.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s secrets.Secret
			var err error
			if tt.version == 0 {
				s, err = v.Get(ctx, "auth_public_key")
			} else {
				s, err = v.GetVersion(ctx, "auth_public_key", tt.version)
			}
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(s.Value))
			require.Equal(t, tt.wantV, s.Version)
		})
	}
	_, err := v.GetVersion(ctx, "auth_public_key", 0)
	require.Error(t, err)
}

func TestVaultRotationCallsBack(t *testing.T) {
	t.Parallel()
	f, srv := newFakeVault(t, mount, path, "tok")
	f.put(map[string]any{"auth_public_key": "pem-1"})
	v := newVault(t, srv.URL, "tok")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	changed := make(chan secrets.Secret, 4)
	first, err := secrets.Watch(ctx, v, "auth_public_key", 5*time.Millisecond,
		func(s secrets.Secret) { changed <- s }, nil)
	require.NoError(t, err)
	require.Equal(t, "pem-1", string(first.Value))
	require.Equal(t, "1", first.Version)

	// Re-reads of an unchanged version do not call back.
	for f.readCount() < 4 {
		time.Sleep(time.Millisecond)
	}
	require.Empty(t, changed)

	f.put(map[string]any{"auth_public_key": "pem-2"})
	select {
	case s := <-changed:
		require.Equal(t, "pem-2", string(s.Value))
		require.Equal(t, "2", s.Version)
	case <-time.After(10 * time.Second):
		t.Fatal("no callback after version 2 appeared")
	}
}

func TestVaultFailuresAtStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T) (addr, token string)
		pingErr error // nil: Ping passes
		getErr  error
	}{
		{
			name: "sealed",
			setup: func(t *testing.T) (string, string) {
				f, srv := newFakeVault(t, mount, path, "tok")
				f.put(map[string]any{"auth_public_key": "pem"})
				f.setSealed(true)
				return srv.URL, "tok"
			},
			pingErr: secrets.ErrSealed, getErr: secrets.ErrSealed,
		},
		{
			name:    "unreachable",
			setup:   func(t *testing.T) (string, string) { return closedAddr(t), "tok" },
			pingErr: secrets.ErrUnreachable, getErr: secrets.ErrUnreachable,
		},
		{
			name: "bad token",
			setup: func(t *testing.T) (string, string) {
				f, srv := newFakeVault(t, mount, path, "tok")
				f.put(map[string]any{"auth_public_key": "pem"})
				return srv.URL, "wrong"
			},
			getErr: secrets.ErrPermissionDenied,
		},
		{
			name: "no such key",
			setup: func(t *testing.T) (string, string) {
				f, srv := newFakeVault(t, mount, path, "tok")
				f.put(map[string]any{"other": "x"})
				return srv.URL, "tok"
			},
			getErr: secrets.ErrNotFound,
		},
		{
			name: "no such path",
			setup: func(t *testing.T) (string, string) {
				_, srv := newFakeVault(t, mount, path, "tok")
				return srv.URL, "tok"
			},
			getErr: secrets.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, token := tt.setup(t)
			v := newVault(t, addr, token)
			ctx := context.Background()
			err := v.Ping(ctx)
			if tt.pingErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.pingErr)
			}
			_, err = v.Get(ctx, "auth_public_key")
			require.ErrorIs(t, err, tt.getErr)
			// Watch reports the same named error at start, so the caller can fail start.
			_, err = secrets.Watch(ctx, v, "auth_public_key", time.Second, func(secrets.Secret) {}, nil)
			require.ErrorIs(t, err, tt.getErr)
		})
	}
}

func TestNewVaultValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  vault.Config
	}{
		{name: "no address", cfg: vault.Config{Token: "t", Mount: "m", Path: "p"}},
		{name: "no token", cfg: vault.Config{Addr: "http://x", Mount: "m", Path: "p"}},
		{name: "no mount", cfg: vault.Config{Addr: "http://x", Token: "t", Path: "p"}},
		{name: "no path", cfg: vault.Config{Addr: "http://x", Token: "t", Mount: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := vault.New(tt.cfg)
			require.Error(t, err)
		})
	}
}
