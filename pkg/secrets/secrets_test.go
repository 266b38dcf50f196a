package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/secrets"
	"github.com/infra-mind/infra-mind/pkg/secrets/vault"
)

// adapter is one Provider with a way to change a secret's value the way
// its operators rotate it.
type adapter struct {
	name   string
	build  func(t *testing.T, initial map[string]string) (p secrets.Provider, rotate func(name, value string))
	rotate bool // whether a rotation is visible to an already built provider
}

func adapters() []adapter {
	return []adapter{
		{name: "env", build: func(t *testing.T, initial map[string]string) (secrets.Provider, func(string, string)) {
			vars := map[string]string{"PATH": "/bin"}
			for k, v := range initial {
				vars[secrets.EnvVar(k)] = v
			}
			return secrets.NewEnv(vars), nil
		}},
		{name: "file", rotate: true, build: func(t *testing.T, initial map[string]string) (secrets.Provider, func(string, string)) {
			dir := t.TempDir()
			write := func(name, value string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600))
			}
			for k, v := range initial {
				write(k, v)
			}
			p, err := secrets.NewFile(dir)
			require.NoError(t, err)
			return p, write
		}},
		{name: "vault (fake KV v2)", rotate: true, build: func(t *testing.T, initial map[string]string) (secrets.Provider, func(string, string)) {
			f, srv := newFakeVault(t, "secret", "infra-mind/gateway", "good-token")
			data := map[string]any{}
			for k, v := range initial {
				data[k] = v
			}
			f.put(data)
			p, err := vault.New(vault.Config{Addr: srv.URL, Token: "good-token", Mount: "secret", Path: "infra-mind/gateway"})
			require.NoError(t, err)
			return p, func(name, value string) {
				next := map[string]any{}
				for k, v := range data {
					next[k] = v
				}
				next[name] = value
				data = next
				f.put(next)
			}
		}},
	}
}

// TestProviderContract runs the same behaviour against every adapter.
func TestProviderContract(t *testing.T) {
	t.Parallel()
	for _, a := range adapters() {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			p, rotate := a.build(t, map[string]string{"auth_public_key": "key-one", "llm-api-key": "llm"})

			s, err := p.Get(ctx, "auth_public_key")
			require.NoError(t, err)
			require.Equal(t, "key-one", string(s.Value))
			require.NotEmpty(t, s.Version)

			s2, err := p.Get(ctx, "llm-api-key")
			require.NoError(t, err)
			require.Equal(t, "llm", string(s2.Value))

			_, err = p.Get(ctx, "missing")
			require.ErrorIs(t, err, secrets.ErrNotFound)

			for _, bad := range []string{"", "../etc/passwd", "a/b", "UPPER", ".hidden"} {
				_, err = p.Get(ctx, bad)
				require.ErrorIs(t, err, secrets.ErrInvalidName, bad)
			}

			if !a.rotate {
				return
			}
			rotate("auth_public_key", "key-two-longer")
			r, err := p.Get(ctx, "auth_public_key")
			require.NoError(t, err)
			require.Equal(t, "key-two-longer", string(r.Value))
			require.NotEqual(t, s.Version, r.Version, "a rotation must show as a new version")
		})
	}
}

func TestEnvFromEnviron(t *testing.T) {
	t.Parallel()
	got := secrets.EnvFromEnviron([]string{"HOME=/root", "IM_SECRET_AUTH_PUBLIC_KEY=a=b", "IM_SECRETS_PROVIDER=env", "IM_SECRET_X="})
	require.Equal(t, map[string]string{"IM_SECRET_AUTH_PUBLIC_KEY": "a=b", "IM_SECRET_X": ""}, got)
}

func TestNewFileRejectsMissingDirectory(t *testing.T) {
	t.Parallel()
	_, err := secrets.NewFile(filepath.Join(t.TempDir(), "nope"))
	require.Error(t, err)
}

// TestFileFollowsKubernetesSymlinkSwap mimics the kubelet's rotation: the
// file is a symlink into a ..data directory that is swapped atomically.
func TestFileFollowsKubernetesSymlinkSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	v1 := filepath.Join(dir, "..2026_01_01")
	v2 := filepath.Join(dir, "..2026_01_02")
	require.NoError(t, os.Mkdir(v1, 0o700))
	require.NoError(t, os.Mkdir(v2, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(v1, "token"), []byte("old"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(v2, "token"), []byte("brand-new"), 0o600))
	require.NoError(t, os.Symlink(v1, filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")))

	p, err := secrets.NewFile(dir)
	require.NoError(t, err)
	s, err := p.Get(context.Background(), "token")
	require.NoError(t, err)
	require.Equal(t, "old", string(s.Value))

	tmp := filepath.Join(dir, "..data_tmp")
	require.NoError(t, os.Symlink(v2, tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "..data")))
	s, err = p.Get(context.Background(), "token")
	require.NoError(t, err)
	require.Equal(t, "brand-new", string(s.Value))
}

// countingProvider counts calls and can be told to fail.
type countingProvider struct {
	mu    sync.Mutex
	calls int
	value string
	err   error
}

func (c *countingProvider) Get(_ context.Context, name string) (secrets.Secret, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.err != nil {
		return secrets.Secret{}, c.err
	}
	return secrets.Secret{Value: []byte(c.value), Version: c.value}, nil
}

func TestCached(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	next := &countingProvider{value: "v1"}
	c, err := secrets.NewCached(next, time.Minute, clock)
	require.NoError(t, err)
	ctx := context.Background()

	tests := []struct {
		name      string
		advance   time.Duration
		value     string
		err       error
		want      string
		wantErr   bool
		wantCalls int
	}{
		{name: "first read goes through", value: "v1", want: "v1", wantCalls: 1},
		{name: "within the TTL is served from cache", advance: 59 * time.Second, value: "v2", want: "v1", wantCalls: 1},
		{name: "after the TTL re-reads and sees the rotation", advance: time.Second, value: "v2", want: "v2", wantCalls: 2},
		{name: "an error after expiry is returned, not cached", advance: time.Minute, err: errors.New("down"), wantErr: true, wantCalls: 3},
		{name: "the next read retries", value: "v3", want: "v3", wantCalls: 4},
	}
	for _, tt := range tests { // sequential: each step builds on the last
		now = now.Add(tt.advance)
		next.mu.Lock()
		next.value, next.err = tt.value, tt.err
		next.mu.Unlock()
		s, err := c.Get(ctx, "k")
		if tt.wantErr {
			require.Error(t, err, tt.name)
		} else {
			require.NoError(t, err, tt.name)
			require.Equal(t, tt.want, string(s.Value), tt.name)
		}
		require.Equal(t, tt.wantCalls, next.calls, tt.name)
	}

	_, err = secrets.NewCached(nil, time.Minute, nil)
	require.Error(t, err)
	_, err = secrets.NewCached(next, 0, nil)
	require.Error(t, err)
}
