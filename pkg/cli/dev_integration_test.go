//go:build integration

package cli_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// `infra-mind dev` against the machine's real servers, as a newcomer points
// it at them before Kubernetes: the harness's nats-server, FerretDB on
// PostgreSQL and Redis. The example runs end to end and no embedded server
// starts (its data folders stay absent).
func TestIntegrationDevUsesExternalServers(t *testing.T) {
	natsURL, mongoURI, redisURL := os.Getenv("IM_TEST_NATS_URL"), os.Getenv("IM_TEST_MONGO_URI"), os.Getenv("IM_TEST_REDIS_URL")
	if natsURL == "" || mongoURI == "" || redisURL == "" {
		t.Fatal("IM_TEST_NATS_URL, IM_TEST_MONGO_URI and IM_TEST_REDIS_URL must be set (scripts/integration.sh sets them)")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	database := "inframind_dev_" + hex.EncodeToString(b)

	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The servers come from the environment, as IM_* variables.
	env := map[string]string{"IM_NATS_URL": natsURL, "IM_MONGO_URI": mongoURI, "IM_REDIS_URL": redisURL}
	code, out, errOut := run(t, ctx, env, "dev", "--data", data, "--http", "127.0.0.1:0", "--mongo-database", database,
		"--example", filepath.Join(repoRoot(t), "examples", "startup-rag.yaml"), "--exit-after-example")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "using the external NATS at "+natsURL)
	require.Contains(t, out, "using the external store at")
	require.Contains(t, out, "using the external Redis at")
	require.Contains(t, out, "[6/6]")
	require.Contains(t, out, "stopped cleanly")
	for _, dir := range []string{"nats", "ferretdb"} {
		_, err := os.Stat(filepath.Join(data, dir))
		require.True(t, os.IsNotExist(err), "no embedded %s ran", dir)
	}
}
