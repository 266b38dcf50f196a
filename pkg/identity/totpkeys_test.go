package identity_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
	"github.com/infra-mind/infra-mind/pkg/secrets"
	"github.com/infra-mind/infra-mind/pkg/store"
)

func TestParseTOTPKeys(t *testing.T) {
	t.Parallel()
	good := totpKeyLines(t, "k2", "k1")
	k, err := identity.ParseTOTPKeys([]byte("# rotated 2026-12\n\n" + good))
	require.NoError(t, err)
	require.Equal(t, "k2", k.Current(), "the first key encrypts")

	short := "k1:" + strings.Repeat("A", 40) // 30 bytes
	for _, tc := range []struct{ name, text, want string }{
		{name: "empty", text: "# nothing\n", want: "no key"},
		{name: "no id", text: strings.SplitN(good, ":", 2)[1], want: "line 1: want <id>:<base64 key>"},
		{name: "bad id", text: "k/1:" + strings.SplitN(good, ":", 2)[1], want: "line 1: want <id>:<base64 key>"},
		{name: "short key", text: short, want: "line 1 (key k1): want 32 bytes"},
		{name: "not base64", text: "k1:***", want: "line 1 (key k1): want 32 bytes"},
		{name: "duplicate id", text: good + strings.Replace(strings.SplitN(good, "\n", 2)[0], "k2", "k1", 1), want: `line 3: key id "k1" appears twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := identity.ParseTOTPKeys([]byte(tc.text))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// storedTOTP is a user's TOTP secret as the store holds it.
func storedTOTP(t *testing.T, e *env, u identity.User) store.User {
	t.Helper()
	got, err := e.st.Users.Get(context.Background(), u.Tenant, u.ID)
	require.NoError(t, err)
	return got
}

func (e *env) loginWithCode(t *testing.T, u identity.User, secret string) error {
	t.Helper()
	e.clock.Advance(2 * time.Minute) // past every code used before
	code, err := totp.GenerateCode(secret, e.clock.Now())
	require.NoError(t, err)
	_, err = e.svc.Login(context.Background(), identity.LoginInput{Tenant: u.Tenant, Email: u.Email, Password: testPassword, TOTPCode: code})
	return err
}

// TOTP secrets are stored sealed with AES-256-GCM under the key set's first
// key, named in the stored form; a rotation keeps the old keys to open what
// they sealed and seals each secret again with the new key on its next use;
// secrets stored in plain text before encryption are sealed the same way;
// a sealed secret is bound to its user.
func TestTOTPSecretsAreEncryptedAtRest(t *testing.T) {
	t.Parallel()
	st := startStore(t)
	e := newEnv(t, st)
	ctx := context.Background()
	tenant, _ := e.newTenant(t)
	u := e.newUser(t, tenant, auth.RoleAnalyst)

	enr, err := e.svc.EnrollTOTP(ctx, tenant, u.ID, identity.Reauth{Password: testPassword})
	require.NoError(t, err)
	pending := storedTOTP(t, e, u).TOTPPending
	require.True(t, strings.HasPrefix(pending, "enc:v1:k1:"), "a pending secret is sealed with the current key: %q", pending)
	require.NotContains(t, pending, enr.Secret)

	secret := enableMFA(t, e, u)
	sealed := storedTOTP(t, e, u).TOTPSecret
	require.True(t, strings.HasPrefix(sealed, "enc:v1:k1:"), sealed)
	require.NotContains(t, sealed, secret)
	require.NoError(t, e.loginWithCode(t, u, secret))

	t.Run("bound to its user", func(t *testing.T) {
		other := e.newUser(t, tenant, auth.RoleAnalyst)
		_, err := st.Users.SetPendingTOTP(ctx, tenant, other.ID, sealed)
		require.NoError(t, err)
		_, err = st.Users.EnableTOTP(ctx, tenant, other.ID, sealed)
		require.NoError(t, err)
		err = e.loginWithCode(t, other, secret)
		require.Error(t, err)
		require.ErrorContains(t, err, "message authentication failed", "a secret copied onto another user does not open")
	})

	t.Run("rotation", func(t *testing.T) {
		e.totpLines["k2"] = totpKeyLines(t, "k2")
		rotated, err := identity.ParseTOTPKeys([]byte(e.totpLines["k2"] + e.totpLines["k1"]))
		require.NoError(t, err)
		e.totpKeys.Set(rotated)
		require.NoError(t, e.loginWithCode(t, u, secret), "the old key still opens what it sealed")
		resealed := storedTOTP(t, e, u).TOTPSecret
		require.True(t, strings.HasPrefix(resealed, "enc:v1:k2:"), "sealed again with the new key on use: %q", resealed)

		// Every secret moved, the old key can go.
		onlyNew, err := identity.ParseTOTPKeys([]byte(e.totpLines["k2"]))
		require.NoError(t, err)
		e.totpKeys.Set(onlyNew)
		require.NoError(t, e.loginWithCode(t, u, secret))

		// A secret whose key was dropped too soon does not open; the error says why.
		e.totpKeys.Set(newTOTPKeys(t, "k3"))
		err = e.loginWithCode(t, u, secret)
		require.ErrorContains(t, err, `key "k2": the key that encrypted this TOTP secret is not in the key set`)
		e.totpKeys.Set(onlyNew)
	})

	t.Run("plain text stored before encryption is sealed on use", func(t *testing.T) {
		legacy := e.newUser(t, tenant, auth.RoleViewer)
		plain := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
		_, err := st.Users.SetPendingTOTP(ctx, tenant, legacy.ID, plain)
		require.NoError(t, err)
		_, err = st.Users.EnableTOTP(ctx, tenant, legacy.ID, plain)
		require.NoError(t, err)
		require.NoError(t, e.loginWithCode(t, legacy, plain))
		now := storedTOTP(t, e, legacy).TOTPSecret
		require.True(t, strings.HasPrefix(now, "enc:v1:k2:"), now)
		require.NoError(t, e.loginWithCode(t, legacy, plain))
	})

	t.Run("without a key set secrets stay plain and sealed ones are refused", func(t *testing.T) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		plainSvc, err := identity.New(realPorts(t, st, e.rdb), auth.NewSigner(priv, issuer, audience), identity.Options{Now: e.clock.Now})
		require.NoError(t, err)
		e.clock.Advance(2 * time.Minute)
		code, err := totp.GenerateCode(secret, e.clock.Now())
		require.NoError(t, err)
		_, err = plainSvc.Login(ctx, identity.LoginInput{Tenant: u.Tenant, Email: u.Email, Password: testPassword, TOTPCode: code})
		require.ErrorContains(t, err, "no TOTP key set is configured")
	})
}

// memSecret is a secrets.Provider of one secret a test changes.
type memSecret struct {
	mu      sync.Mutex
	value   string
	version int
	missing bool
}

func (m *memSecret) set(v string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.value = v
	m.version++
}

func (m *memSecret) Get(_ context.Context, name string) (secrets.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.missing {
		return secrets.Secret{}, fmt.Errorf("%s: %w", name, secrets.ErrNotFound)
	}
	return secrets.Secret{Value: []byte(m.value), Version: strconv.Itoa(m.version)}, nil
}

// Watching the key set's secret rotates without a restart, and a new
// version that drops the key in force is refused (secrets sealed until now
// need it).
func TestWatchTOTPKeysRotates(t *testing.T) {
	t.Parallel()
	k1, err := identity.NewTOTPKeyLine("k1")
	require.NoError(t, err)
	k2, err := identity.NewTOTPKeyLine("k2")
	require.NoError(t, err)
	k3, err := identity.NewTOTPKeyLine("k3")
	require.NoError(t, err)
	p := &memSecret{value: k1 + "\n"}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ring, err := identity.WatchTOTPKeys(ctx, p, "totp_keys", 5*time.Millisecond, nil)
	require.NoError(t, err)
	require.Equal(t, "k1", ring.Keys().Current())

	p.set(k2 + "\n" + k1 + "\n")
	require.Eventually(t, func() bool { return ring.Keys().Current() == "k2" }, 5*time.Second, 5*time.Millisecond)

	p.set(k3 + "\n") // drops k2, the key in force: refused
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, "k2", ring.Keys().Current())

	p.set("not a key set")
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, "k2", ring.Keys().Current())

	_, err = identity.WatchTOTPKeys(ctx, &memSecret{value: "k1:short"}, "totp_keys", time.Second, nil)
	require.ErrorContains(t, err, "want 32 bytes")
	_, err = identity.WatchTOTPKeys(ctx, &memSecret{missing: true}, "totp_keys", time.Second, nil)
	require.ErrorIs(t, err, secrets.ErrNotFound)
}
