//go:build integration

package compose_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
)

func mustEnv(t *testing.T, key string) string {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		t.Fatalf("%s is not set: run the integration suite with `make test-integration`", key)
	}
	return v
}

// realServers are the harness's servers, with a database of the test's own
// that is dropped afterwards.
func realServers(t *testing.T, natsURL string) servers {
	t.Helper()
	mongoURI := mustEnv(t, "IM_TEST_MONGO_URI")
	db := "it_platform_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mc, err := mongo.Connect(options.Client().ApplyURI(mongoURI))
		if err == nil {
			_ = mc.Database(db).Drop(ctx)
			_ = mc.Disconnect(ctx)
		}
	})
	return servers{nats: natsURL, mongo: mongoURI, mongoDB: db, redis: mustEnv(t, "IM_TEST_REDIS_URL")}
}

// uniqueTenant keeps tests apart on the shared broker's subjects.
func uniqueTenant(sys *system, t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(sys.base, sys.sign("t"+uuid.NewString()[:8]), nil)
	require.NoError(t, err)
	return c
}

func TestIntegrationExamplesOnRealServers(t *testing.T) {
	srv := realServers(t, mustEnv(t, "IM_TEST_NATS_URL"))
	sys := startSystemOn(t, srv, compose.AllRoles(), time.Minute)
	c := uniqueTenant(sys, t)
	ctx := context.Background()
	for _, name := range []string{"chatbot-70b-hipaa-us.yaml", "finetune-gdpr-eu.yaml", "startup-rag.yaml"} {
		acc, err := c.Submit(ctx, example(t, name), "application/yaml")
		require.NoError(t, err)
		_, completed := follow(t, c, acc.ID)
		require.Equal(t, "completed", completed["status"], "%s: %v", name, completed)
		_, err = c.Report(ctx, acc.ID)
		require.NoError(t, err)
	}
}

// natsProcess is a nats-server the test owns, so it can kill and restart it.
type natsProcess struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

func (n *natsProcess) start(t *testing.T) {
	t.Helper()
	n.cmd = exec.Command(n.bin, "-js", "-sd", n.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port))
	require.NoError(t, n.cmd.Start())
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", n.url()[len("nats://"):], 200*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 20*time.Second, 50*time.Millisecond, "nats-server did not start")
}

// kill stops the broker abruptly (no graceful shutdown).
func (n *natsProcess) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGKILL))
	_ = n.cmd.Wait()
}

func (n *natsProcess) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func TestIntegrationBrokerKilledMidAssessmentsLosesNothing(t *testing.T) {
	n := &natsProcess{bin: mustEnv(t, "IM_TEST_NATS_SERVER_BIN"), dir: t.TempDir(), port: freePort(t)}
	n.start(t)
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			n.kill(t)
		}
	})
	srv := realServers(t, n.url())
	sys := startSystemOn(t, srv, compose.AllRoles(), 3*time.Minute)
	c := uniqueTenant(sys, t)
	ctx := context.Background()

	const count = 6
	ids := make([]string, count)
	for i := range ids {
		acc, err := c.Submit(ctx, example(t, "startup-rag.yaml"), "application/yaml")
		require.NoError(t, err)
		ids[i] = acc.ID
	}
	n.kill(t)
	time.Sleep(time.Second)
	n.start(t)

	// Every assessment completes, each event stream resuming with
	// Last-Event-ID across the outage, and every family answered exactly once.
	var wg sync.WaitGroup
	results := make([]map[string]any, count)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = follow(t, c, id)
		}()
	}
	wg.Wait()
	for i, id := range ids {
		require.Equal(t, "completed", results[i]["status"], "assessment %s: %v", id, results[i])
		a, err := c.Get(ctx, id)
		require.NoError(t, err)
		require.Len(t, a.Families, len(assessment.Families()))
	}
}

func TestIntegrationFamilyDownThenBackCompletesFromTheStream(t *testing.T) {
	natsURL := mustEnv(t, "IM_TEST_NATS_URL")
	srv := realServers(t, natsURL)
	var others []assessment.Family
	for _, f := range assessment.Families() {
		if f != assessment.FamilyCompliance {
			others = append(others, f)
		}
	}
	sys := startSystemOn(t, srv, compose.Roles{Gateway: true, Synthesizer: true, Families: others}, 3*time.Minute)
	c := uniqueTenant(sys, t)
	ctx := context.Background()
	acc, err := c.Submit(ctx, example(t, "finetune-gdpr-eu.yaml"), "application/yaml")
	require.NoError(t, err)

	// Without compliance the assessment waits, still running.
	require.Eventually(t, func() bool {
		a, err := c.Get(ctx, acc.ID)
		return err == nil && a.Status == "running"
	}, 20*time.Second, 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	a, err := c.Get(ctx, acc.ID)
	require.NoError(t, err)
	require.Equal(t, api.AssessmentStatusRunning, a.Status)

	// The compliance service starts (as its own process would) and works
	// through what waited in the stream.
	startSystemOn(t, srv, compose.Roles{Families: []assessment.Family{assessment.FamilyCompliance}}, 3*time.Minute)
	_, completed := follow(t, c, acc.ID)
	require.Equal(t, "completed", completed["status"])
}
