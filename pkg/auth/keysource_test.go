package auth

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/secrets"
)

// memSecrets is an in-memory secret provider whose values get a new version
// on every put, as a secret store's do.
type memSecrets struct {
	mu       sync.Mutex
	versions map[string]int
	values   map[string][]byte
}

func (m *memSecrets) put(name string, v []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.values == nil {
		m.versions, m.values = map[string]int{}, map[string][]byte{}
	}
	m.versions[name]++
	m.values[name] = v
}

func (m *memSecrets) Get(_ context.Context, name string) (secrets.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[name]
	if !ok {
		return secrets.Secret{}, secrets.ErrNotFound
	}
	return secrets.Secret{Value: v, Version: strconv.Itoa(m.versions[name])}, nil
}

func TestLoadKeyRingFollowsTheSigningKeySecret(t *testing.T) {
	t.Parallel()
	first, next := mustKey(t), mustKey(t)
	store := &memSecrets{}
	store.put("signing", pemBlock(t, "PRIVATE KEY", first))
	ring, stop, err := LoadKeyRing(context.Background(), KeySources{
		Signing:  KeySource{FileSetting: "KEY_FILE", SecretSetting: "KEY_SECRET", Secret: "signing"},
		Provider: store, Refresh: 5 * time.Millisecond, Retain: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(stop)
	require.Equal(t, KeyID(pubOf(first)), ring.CurrentKeyID())

	store.put("signing", pemBlock(t, "PRIVATE KEY", next))
	require.Eventually(t, func() bool { return ring.CurrentKeyID() == KeyID(pubOf(next)) }, 5*time.Second, 5*time.Millisecond)
	// The previous key keeps verifying the tokens it signed.
	require.ElementsMatch(t, []string{KeyID(pubOf(first)), KeyID(pubOf(next))}, jwksKIDs(ring))

	// A version that is not a key changes nothing.
	store.put("signing", []byte("not a key"))
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, KeyID(pubOf(next)), ring.CurrentKeyID())
}

func TestLoadKeyRingRejectsIncompleteSources(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	signing := KeySource{FileSetting: "KEY_FILE", SecretSetting: "KEY_SECRET", Secret: "signing"}
	tests := []struct {
		name string
		src  KeySources
		want string
	}{
		{name: "no logger", src: KeySources{Signing: signing, Provider: &memSecrets{}, Refresh: time.Second, Retain: time.Hour},
			want: "logger is required"},
		{name: "no signing key", src: KeySources{Retain: time.Hour, Logger: log,
			Signing: KeySource{FileSetting: "KEY_FILE", SecretSetting: "KEY_SECRET"}}, want: "set one of KEY_FILE and KEY_SECRET"},
		{name: "two signing keys", src: KeySources{Retain: time.Hour, Logger: log,
			Signing: KeySource{FileSetting: "KEY_FILE", SecretSetting: "KEY_SECRET", File: "k.pem", Secret: "signing"}},
			want: "set one of KEY_FILE and KEY_SECRET"},
		{name: "no retention", src: KeySources{Signing: signing, Provider: &memSecrets{}, Refresh: time.Second, Logger: log},
			want: "retention must be positive"},
		{name: "a secret without a provider", src: KeySources{Signing: signing, Refresh: time.Second, Retain: time.Hour, Logger: log},
			want: "need a provider"},
		{name: "a secret without a refresh interval", src: KeySources{Signing: signing, Provider: &memSecrets{}, Retain: time.Hour, Logger: log},
			want: "positive refresh interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := LoadKeyRing(context.Background(), tt.src)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
