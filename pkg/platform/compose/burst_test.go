package compose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/gateway"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
)

// A burst ten times the in-flight limit: every assessment the API accepts
// completes, and every one it refuses gets 429 with Retry-After and problem
// JSON before anything is stored. Without admission control the pipeline
// takes them all and the ones at the back of the queue fail at the deadline.
func TestBurstIsAdmittedUpToTheLimitAndEveryAcceptedOneCompletes(t *testing.T) {
	const limit, burst, tenants = 3, 30, 10
	stack, err := devstack.Start(context.Background(), devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	sys := startSystemOn(t, servers{nats: stack.NATSURL, mongo: stack.MongoURI, mongoDB: "burst", redis: stack.RedisURL},
		compose.AllRoles(), time.Minute, func(c *platform.Config) { c.Gateway.MaxInFlightAssessments = limit })
	body := example(t, "startup-rag.yaml")

	type answer struct {
		tenant, id, retryAfter, contentType, problemType string
		status                                           int
	}
	answers := make([]answer, burst)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			// Spread over tenants so the per-tenant cap on active
			// assessments is not what refuses them.
			tenant := fmt.Sprintf("burst-%d", i%tenants)
			req, err := http.NewRequest(http.MethodPost, sys.base+"/v1/assessments", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/yaml")
			req.Header.Set("Authorization", "Bearer "+sys.sign(tenant))
			<-start
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var doc struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
			answers[i] = answer{tenant: tenant, id: doc.ID, status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"),
				contentType: resp.Header.Get("Content-Type"), problemType: doc.Type}
		})
	}
	close(start)
	wg.Wait()

	ctx := context.Background()
	accepted, refused := 0, 0
	for _, a := range answers {
		switch a.status {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
			refused++
			secs, err := strconv.Atoi(a.retryAfter)
			require.NoError(t, err, "Retry-After is whole seconds: %q", a.retryAfter)
			require.Positive(t, secs)
			require.Equal(t, "application/problem+json", a.contentType)
			require.Equal(t, gateway.ProblemPipelineBusy, a.problemType)
		default:
			t.Fatalf("answer %d to a submission in the burst", a.status)
		}
	}
	t.Logf("burst of %d with an in-flight limit of %d: %d accepted, %d refused", burst, limit, accepted, refused)
	require.Positive(t, refused, "a burst ten times the limit is not all taken")
	require.GreaterOrEqual(t, accepted, 1)
	require.LessOrEqual(t, accepted, burst-refused)

	for _, a := range answers {
		if a.status != http.StatusAccepted {
			continue
		}
		c, err := client.New(sys.base, sys.sign(a.tenant), nil)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			got, err := c.Get(ctx, a.id)
			return err == nil && got.Status == "completed"
		}, 60*time.Second, 100*time.Millisecond, "accepted assessment %s completes", a.id)
	}
}
