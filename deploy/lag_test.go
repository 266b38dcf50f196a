//go:build chart

package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/worker"
)

// jsz is the part of nats-server's /jsz answer that KEDA's nats-jetstream
// scaler reads (kedacore/keda pkg/scalers/nats_jetstream_scaler.go): the
// account by name, its stream by name, the consumer by name, and the
// consumer's num_pending and num_ack_pending, whose sum is the metric.
type jsz struct {
	Accounts []struct {
		Name    string `json:"name"`
		Streams []struct {
			Name      string `json:"name"`
			Consumers []struct {
				Name          string `json:"name"`
				NumPending    int64  `json:"num_pending"`
				NumAckPending int64  `json:"num_ack_pending"`
			} `json:"consumer_detail"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

// kedaLag reads the monitoring endpoint with the request KEDA sends
// (GET /jsz?acc=<account>&consumers=true&config=true) and returns the
// metric it would report for the consumer.
func kedaLag(t *testing.T, monitoring, account, stream, consumer string) int64 {
	t.Helper()
	url := fmt.Sprintf("http://%s/jsz?acc=%s&consumers=true&config=true", monitoring, account)
	res, err := http.Get(url) //nolint:noctx // a test against a local server
	require.NoError(t, err)
	defer func() { require.NoError(t, res.Body.Close()) }()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var body jsz
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	for _, a := range body.Accounts {
		if a.Name != account {
			continue
		}
		for _, s := range a.Streams {
			if s.Name != stream {
				continue
			}
			for _, c := range s.Consumers {
				if c.Name == consumer {
					return c.NumPending + c.NumAckPending
				}
			}
		}
	}
	t.Fatalf("consumer %s of stream %s not in /jsz of account %s", consumer, stream, account)
	return 0
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// startNATS starts the pinned nats-server with JetStream and its monitoring
// port, and returns the client URL and the monitoring host:port.
func startNATS(t *testing.T) (string, string) {
	t.Helper()
	bin := os.Getenv("IM_TEST_NATS_SERVER_BIN")
	require.NotEmpty(t, bin, "IM_TEST_NATS_SERVER_BIN must name the pinned nats-server (make chart-check sets it)")
	client, monitor := freePort(t), freePort(t)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(client), "-m", strconv.Itoa(monitor),
		"-js", "-sd", t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	monitoring := net.JoinHostPort("127.0.0.1", strconv.Itoa(monitor))
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + monitoring + "/healthz?js-enabled-only=true") //nolint:noctx // local
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 15*time.Second, 50*time.Millisecond, "nats-server did not start")
	return fmt.Sprintf("nats://127.0.0.1:%d", client), monitoring
}

// TestLagKEDASeesIsReal declares the project's streams and every family's
// consumer as the services do, leaves messages pending, some of them
// delivered and unacknowledged, and reads the lag as KEDA does: it must be
// the pending count, and the replicas KEDA asks for at the chart's default
// thresholds must be the ones docs/operations.md promises.
func TestLagKEDASeesIsReal(t *testing.T) {
	url, monitoring := startNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, bus.Config{URL: url, Name: "chart-lag-test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	policy := bus.NewPolicy()
	consumers := map[assessment.Family]jetstream.Consumer{}
	for _, f := range assessment.Families() {
		sub := worker.SubscriptionOf(f)
		c, err := b.JS.CreateOrUpdateConsumer(ctx, sub.Stream, policy.ConsumerConfig(worker.DurableName(f), sub))
		require.NoError(t, err)
		consumers[f] = c
	}

	// 37 assessment requests wait; the cloud family's worker took 12 of
	// them and has not acknowledged them yet (in flight).
	const waiting, inFlight = 37, 12
	for i := range waiting {
		_, err := b.JS.Publish(ctx, bus.SubjectRequested("acme"), []byte(strconv.Itoa(i)))
		require.NoError(t, err)
	}
	batch, err := consumers[assessment.FamilyCloud].FetchNoWait(inFlight)
	require.NoError(t, err)
	var got int
	for range batch.Messages() {
		got++
	}
	require.Equal(t, inFlight, got)

	objs := renderAndDecode(t, []string{"values.yaml"})
	scaled := customs(objs, "ScaledObject")
	cases := []struct {
		family    assessment.Family
		lag       int64
		threshold string
		replicas  int32
	}{
		// ceil(37 / 5) = 8, within the cloud family's 2..20.
		{family: assessment.FamilyCloud, lag: waiting, threshold: "5", replicas: 8},
		// ceil(37 / 10) = 4, within 1..10.
		{family: assessment.FamilyMLOps, lag: waiting, threshold: "10", replicas: 4},
		// Nothing published to the results stream: the minimum, 1.
		{family: assessment.FamilySimulation, lag: 0, threshold: "10", replicas: 1},
	}
	for _, tc := range cases {
		t.Run(string(tc.family), func(t *testing.T) {
			so := asScaledObject(t, scaled[release+"-"+string(tc.family)])
			md := so.Spec.Triggers[0].Metadata
			lag := kedaLag(t, monitoring, md["account"], md["stream"], md["consumer"])
			require.Equal(t, tc.lag, lag, "the metric KEDA reads is the consumer's pending + unacknowledged messages")
			require.Equal(t, tc.threshold, md["lagThreshold"])
			threshold, err := strconv.ParseInt(md["lagThreshold"], 10, 64)
			require.NoError(t, err)
			require.Equal(t, tc.replicas, kedaReplicas(lag, threshold, so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount))
		})
	}
}

// kedaReplicas is what the HPA KEDA creates asks for with an AverageValue
// target (KEDA's default metric type for this scaler): ceil(metric /
// target), clamped to the ScaledObject's bounds (Kubernetes' HPA algorithm,
// kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale).
func kedaReplicas(lag, threshold int64, minReplicas, maxReplicas int32) int32 {
	want := int32((lag + threshold - 1) / threshold) //nolint:gosec // small test numbers
	return min(max(want, minReplicas), maxReplicas)
}
