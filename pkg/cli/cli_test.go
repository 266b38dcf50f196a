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
)

func run(t *testing.T, ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(ctx, args, cli.IO{Stdout: &out, Stderr: &errOut, Env: func(k string) (string, bool) {
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
// the example instead of at Ctrl-C.
func TestDevRunsTheExampleAndStopsCleanly(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, out, errOut := run(t, ctx, nil, "dev", "--data", data, "--http", "127.0.0.1:0",
		"--example", filepath.Join(repoRoot(t), "examples", "chatbot-70b-hipaa-us.yaml"), "--exit-after-example")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "token:")
	require.Contains(t, out, "[6/6]")
	require.Contains(t, out, "stopped cleanly")
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

	// The key it generated stays private to the user.
	st, err := os.Stat(filepath.Join(data, "keys", "signing.pem"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestKeygenAndTokenMakeAVerifiableToken(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, context.Background(), nil, "keygen", "--dir", dir)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "signing.pem")

	// A second keygen keeps the pair.
	pemBefore, err := os.ReadFile(filepath.Join(dir, "signing.pem"))
	require.NoError(t, err)
	code, out, _ = run(t, context.Background(), nil, "keygen", "--dir", dir)
	require.Equal(t, 0, code)
	require.Contains(t, out, "already exists")
	pemAfter, err := os.ReadFile(filepath.Join(dir, "signing.pem"))
	require.NoError(t, err)
	require.Equal(t, pemBefore, pemAfter)

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
