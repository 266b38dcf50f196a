//go:build integration

package compose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIntegrationServicesAsSeparateProcesses runs every service as its own
// binary, configured only by environment variables as in Kubernetes, drives
// an assessment with the infra-mind CLI, then stops each with SIGTERM.
func TestIntegrationServicesAsSeparateProcesses(t *testing.T) {
	srv := realServers(t, mustEnv(t, "IM_TEST_NATS_URL"))
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	bin := t.TempDir()

	services := []string{"gateway", "strategy", "cloud", "mlops", "compliance", "research", "simulation", "synthesizer"}
	pkgs := []string{"./services/cli"}
	for _, s := range services {
		pkgs = append(pkgs, "./services/"+s)
	}
	build := exec.Command("go", append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build services: %s", out)
	cli := filepath.Join(bin, "cli")

	keys := t.TempDir()
	out, err = exec.Command(cli, "keygen", "--dir", keys).CombinedOutput()
	require.NoError(t, err, string(out))

	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env := append(os.Environ(),
		"IM_NATS_URL="+srv.nats,
		"IM_MONGO_URI="+srv.mongo,
		"IM_MONGO_DATABASE="+srv.mongoDB,
		"IM_REDIS_URL="+srv.redis,
		"IM_HTTP_ADDR="+httpAddr,
		// The gateway signs (at sign-in) and verifies with the private key.
		"IM_AUTH_PRIVATE_KEY_FILE="+filepath.Join(keys, "signing.pem"),
		"IM_METRICS_ADDR=127.0.0.1:0",
		"IM_LOG_LEVEL=info",
	)
	type proc struct {
		name string
		cmd  *exec.Cmd
		logs *bytes.Buffer
		done chan error
	}
	var procs []*proc
	for _, s := range services {
		p := &proc{name: s, cmd: exec.Command(filepath.Join(bin, s)), logs: &bytes.Buffer{}, done: make(chan error, 1)}
		p.cmd.Env = env
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		require.NoError(t, p.cmd.Start(), s)
		go func() { p.done <- p.cmd.Wait() }()
		procs = append(procs, p)
	}
	stopped := false
	t.Cleanup(func() {
		if stopped {
			return
		}
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
		}
	})

	base := "http://" + httpAddr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "gateway never became ready")

	tok, err := exec.Command(cli, "token", "--key", filepath.Join(keys, "signing.pem"), "--tenant", "procs").Output()
	require.NoError(t, err)
	report := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	assess := exec.CommandContext(ctx, cli, "assess", "-f", filepath.Join(root, "examples", "startup-rag.yaml"),
		"--url", base, "--token", strings.TrimSpace(string(tok)), "--out", report)
	out, err = assess.CombinedOutput()
	require.NoError(t, err, "assess:\n%s", out)
	require.Contains(t, string(out), "[6/6]")

	b, err := os.ReadFile(report)
	require.NoError(t, err)
	var rep struct {
		Status   string `json:"status"`
		TenantID string `json:"tenant_id"`
	}
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Equal(t, "completed", rep.Status)
	require.Equal(t, "procs", rep.TenantID)

	// SIGTERM: every service drains and exits 0.
	stopped = true
	for _, p := range procs {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	}
	for _, p := range procs {
		select {
		case err := <-p.done:
			require.NoError(t, err, "%s did not exit cleanly:\n%s", p.name, p.logs)
			require.Contains(t, p.logs.String(), "stopped cleanly", p.name)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not stop within 30s of SIGTERM:\n%s", p.name, p.logs)
		}
	}
}
