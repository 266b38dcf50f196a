package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/cli"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

func run(t *testing.T, ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runWithStdin(t, ctx, env, "", args...)
}

// runWithStdin runs the command with stdin holding the given text.
func runWithStdin(t *testing.T, ctx context.Context, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(ctx, args, cli.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	return code, out.String(), errOut.String()
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestDevRunsTheExampleAndStopsCleanly is what `make run` does, ending after
// the example instead of at Ctrl-C, then what a second `make run` on the same
// data prints.
func TestDevRunsTheExampleAndStopsCleanly(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, out, errOut := run(t, ctx, nil, "dev", "--data", data, "--http", "127.0.0.1:0",
		"--example", filepath.Join(repoRoot(t), "examples", "chatbot-70b-hipaa-us.yaml"), "--exit-after-example")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "[6/6]")
	require.Contains(t, out, "stopped cleanly")
	require.Regexp(t, `metrics:  http://127\.0\.0\.1:[1-9][0-9]*/metrics`, out, "the operations listener is on its own port")
	m := regexp.MustCompile(`saved in (\S+\.json)`).FindStringSubmatch(out)
	require.Len(t, m, 2, out)
	b, err := os.ReadFile(m[1])
	require.NoError(t, err)
	var rep struct {
		Status   string `json:"status"`
		TenantID string `json:"tenant_id"`
	}
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Equal(t, "completed", rep.Status)
	require.Equal(t, "demo", rep.TenantID)

	// The key it generated and the passwords stay private to the user.
	for _, f := range []string{filepath.Join("keys", "signing.pem"), "dev-credentials.json"} {
		st, err := os.Stat(filepath.Join(data, f))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}

	// Generated passwords, and a token from signing the owner in.
	owner, operator := devAccounts(t, out)
	require.Equal(t, "new", owner.status)
	require.Equal(t, "new", operator.status)
	require.Len(t, owner.password, 20)
	require.NotEqual(t, owner.password, operator.password)
	require.Contains(t, out, "export IM_TOKEN=$(IM_PASSWORD="+owner.password+" go run ./services/cli login --url http://127.0.0.1:")
	require.Contains(t, out, "the owner signed in")
	pub, err := auth.LoadPublicKeyPEM(filepath.Join(data, "keys", "signing.pub"))
	require.NoError(t, err)
	verify := func(out string) *auth.Claims {
		t.Helper()
		m := regexp.MustCompile(`(?m)^  token:\s+(\S+)$`).FindStringSubmatch(out)
		require.Len(t, m, 2, out)
		cl, err := auth.NewVerifier(pub, "infra-mind", "infra-mind-api").Verify(m[1])
		require.NoError(t, err)
		return cl
	}
	cl := verify(out)
	require.Equal(t, "demo", cl.Tenant)
	require.Equal(t, []string{auth.RoleOwner}, cl.Roles)
	require.NotEmpty(t, cl.Session, "the token comes from a sign-in")

	t.Run("a second run keeps the accounts and their passwords", func(t *testing.T) {
		code, out, errOut := run(t, ctx, nil, "dev", "--data", data, "--http", "127.0.0.1:0", "--example", "", "--exit-after-example")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		owner2, operator2 := devAccounts(t, out)
		require.Contains(t, out, "webhooks may reach plain http and private addresses (development; --webhook-allow-private=false applies the production policy)")
		require.Equal(t, devAccount{password: owner.password, status: "from an earlier run"}, owner2)
		require.Equal(t, devAccount{password: operator.password, status: "from an earlier run"}, operator2)
		require.NotEmpty(t, verify(out).Session)
	})

	t.Run("without the recorded passwords it still starts, and says why", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(data, "dev-credentials.json")))
		code, out, errOut := run(t, ctx, nil, "dev", "--data", data, "--http", "127.0.0.1:0", "--example", "", "--exit-after-example",
			"--webhook-allow-private=false")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		require.Contains(t, out, "webhooks follow the production policy: https to public addresses only")
		require.Contains(t, out, "email dev@example.com, password unknown")
		require.Contains(t, out, "delete the data folder to start afresh")
		require.NotContains(t, out, "export IM_TOKEN")
		require.Contains(t, out, "a development token signed with the local key, valid 24h, because the owner's password was not recorded")
		cl := verify(out)
		require.Equal(t, "demo", cl.Tenant)
		require.Empty(t, cl.Session)
	})
}

// devAccount is a seeded account as `dev` printed it.
type devAccount struct{ password, status string }

// devAccounts reads the owner and operator lines of dev's output.
func devAccounts(t *testing.T, out string) (owner, operator devAccount) {
	t.Helper()
	for label, acc := range map[string]*devAccount{
		"owner:    tenant demo, email dev@example.com":           &owner,
		"operator: tenant _platform, email operator@example.com": &operator,
	} {
		m := regexp.MustCompile(regexp.QuoteMeta(label) + `, password (\S+)   \(([^)]*)\)`).FindStringSubmatch(out)
		require.Len(t, m, 3, out)
		*acc = devAccount{password: m[1], status: m[2]}
	}
	return owner, operator
}

func TestKeygenAndTokenMakeAVerifiableToken(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, context.Background(), nil, "keygen", "--dir", dir)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "signing.pem")
	require.Contains(t, out, "totp.keys")
	totpBefore, err := os.ReadFile(filepath.Join(dir, "totp.keys"))
	require.NoError(t, err)
	_, err = identity.ParseTOTPKeys(totpBefore)
	require.NoError(t, err, "keygen writes a TOTP key set the gateway accepts")

	// A second keygen, even with --force, keeps the TOTP key set: a new one
	// would leave every enrolled user's secret undecryptable.
	pemBefore, err := os.ReadFile(filepath.Join(dir, "signing.pem"))
	require.NoError(t, err)
	code, out, _ = run(t, context.Background(), nil, "keygen", "--dir", dir)
	require.Equal(t, 0, code)
	require.Contains(t, out, "already exists")
	pemAfter, err := os.ReadFile(filepath.Join(dir, "signing.pem"))
	require.NoError(t, err)
	require.Equal(t, pemBefore, pemAfter)
	code, _, _ = run(t, context.Background(), nil, "keygen", "--dir", dir, "--force")
	require.Equal(t, 0, code)
	totpAfter, err := os.ReadFile(filepath.Join(dir, "totp.keys"))
	require.NoError(t, err)
	require.Equal(t, totpBefore, totpAfter)

	code, out, errOut = run(t, context.Background(), map[string]string{"IM_SIGNING_KEY_FILE": filepath.Join(dir, "signing.pem")},
		"token", "--tenant", "acme", "--ttl", "1h")
	require.Equal(t, 0, code, errOut)
	pub, err := auth.LoadPublicKeyPEM(filepath.Join(dir, "signing.pub"))
	require.NoError(t, err)
	claims, err := auth.NewVerifier(pub, "infra-mind", "infra-mind-api").Verify(strings.TrimSpace(out))
	require.NoError(t, err)
	require.Equal(t, "acme", claims.Tenant)
}

func TestCommandLineMistakesExitWithUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no command", args: nil, want: "Usage"},
		{name: "unknown command", args: []string{"deploy"}, want: `unknown command "deploy"`},
		{name: "assess without file", args: []string{"assess", "--token", "x"}, want: "-f is required"},
		{name: "assess without token", args: []string{"assess", "-f", "x.yaml"}, want: "no token"},
		{name: "token with empty tenant", args: []string{"token", "--tenant", ""}, want: "--tenant must not be empty"},
		{name: "bad flag", args: []string{"dev", "--nope"}, want: "flag provided but not defined"},
		{name: "operator without subcommand", args: []string{"operator"}, want: "the subcommand is create"},
		{name: "operator unknown subcommand", args: []string{"operator", "delete"}, want: "the subcommand is create"},
		{name: "operator without email", args: []string{"operator", "create"}, want: "--email is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := run(t, context.Background(), nil, tt.args...)
			require.Equal(t, 2, code)
			require.Contains(t, errOut, tt.want)
		})
	}
}
