package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// receiver is a local webhook endpoint that verifies every delivery with
// the documented receiver code and fails the first failFirst of them.
type receiver struct {
	t         *testing.T
	secret    string
	failFirst int
	srv       *httptest.Server

	mu       sync.Mutex
	requests int
	verified int
	ids      []string
	bodies   [][]byte
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{t: t, failFirst: failFirst}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := verifyWebhook(r.secretValue(), req, time.Now())
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.verified++
		r.ids = append(r.ids, req.Header.Get(HeaderID))
		r.bodies = append(r.bodies, body)
		if r.requests <= r.failFirst {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) secretValue() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secret
}

func (r *receiver) counts() (requests, verified int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.verified
}

type dispatchEnv struct {
	bus   *bus.Bus
	store *store.Store
}

func newDispatchEnv(t *testing.T, cfg Config) *dispatchEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "webhook-test", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	st, err := store.Connect(ctx, stack.MongoURI, "webhooks_test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })

	d, err := New(b, st.Webhooks, nil, cfg)
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})
	return &dispatchEnv{bus: b, store: st}
}

func (e *dispatchEnv) register(t *testing.T, tenant string, r *receiver, types ...string) store.Webhook {
	t.Helper()
	w := e.registerURL(t, tenant, r.srv.URL+"/hooks", types...)
	r.mu.Lock()
	r.secret = w.Secret
	r.mu.Unlock()
	return w
}

// registerURL stores a webhook of tenant for url with a new secret.
func (e *dispatchEnv) registerURL(t *testing.T, tenant, url string, types ...string) store.Webhook {
	t.Helper()
	secret, err := NewSecret()
	require.NoError(t, err)
	w, err := e.store.Webhooks.Create(context.Background(), store.Webhook{
		ID: uuid.NewString(), TenantID: tenant, URL: url, EventTypes: types, Secret: secret,
	})
	require.NoError(t, err)
	return w
}

func (e *dispatchEnv) publishCompleted(t *testing.T, tenant, assessmentID string) string {
	t.Helper()
	id := "completed-" + assessmentID
	require.NoError(t, e.bus.Publish(context.Background(), bus.Message{
		ID: id, Type: bus.TypeAssessmentCompleted, Source: "/services/synthesizer",
		Subject: bus.SubjectCompleted(tenant, assessmentID), Tenant: tenant, CESubject: assessmentID,
		Data: &inframindv1.AssessmentCompleted{Status: "completed", ReportPath: "/v1/assessments/" + assessmentID + "/report"},
	}))
	return id
}

// waitDelivery waits until the delivery of event to w is settled (a hang
// bound, not a speed check).
func (e *dispatchEnv) waitDelivery(t *testing.T, w store.Webhook, eventID string) store.Delivery {
	t.Helper()
	var d store.Delivery
	require.Eventually(t, func() bool {
		got, err := e.store.Webhooks.GetDelivery(context.Background(), w.TenantID, store.DeliveryID(w.TenantID, w.ID, eventID))
		if err != nil {
			return false
		}
		d = got
		return got.Status == store.DeliverySucceeded || got.Status == store.DeliveryFailed
	}, 20*time.Second, 20*time.Millisecond)
	return d
}

func TestDeliveryRetriesUntilTheReceiverAccepts(t *testing.T) {
	t.Parallel()
	e := newDispatchEnv(t, Config{
		Policy:      Policy{AllowPrivate: true},
		Timeout:     5 * time.Second,
		BackOff:     []time.Duration{20 * time.Millisecond, 40 * time.Millisecond},
		MaxAttempts: 5,
		Concurrency: 2,
	})
	flaky := newReceiver(t, 2)
	steady := newReceiver(t, 0)
	statusOnly := newReceiver(t, 0)
	otherTenant := newReceiver(t, 0)
	wFlaky := e.register(t, "acme", flaky, EventAssessmentCompleted)
	wSteady := e.register(t, "acme", steady, EventAssessmentCompleted, EventAssessmentStatus)
	e.register(t, "acme", statusOnly, EventAssessmentStatus)
	e.register(t, "globex", otherTenant, EventAssessmentCompleted)

	assessmentID := uuid.NewString()
	eventID := e.publishCompleted(t, "acme", assessmentID)

	got := e.waitDelivery(t, wFlaky, eventID)
	require.Equal(t, store.DeliverySucceeded, got.Status)
	require.Len(t, got.Attempts, 3)
	for i, a := range got.Attempts {
		require.Equal(t, i+1, a.Attempt)
		require.False(t, a.At.IsZero())
	}
	require.Equal(t, http.StatusInternalServerError, got.Attempts[0].StatusCode)
	require.Equal(t, "endpoint answered HTTP 500", got.Attempts[0].Error)
	require.False(t, got.Attempts[0].NextRetry.IsZero(), "a failed attempt names its next retry")
	require.Equal(t, http.StatusInternalServerError, got.Attempts[1].StatusCode)
	require.Equal(t, http.StatusNoContent, got.Attempts[2].StatusCode)
	require.Empty(t, got.Attempts[2].Error)

	requests, verified := flaky.counts()
	require.Equal(t, 3, requests)
	require.Equal(t, 3, verified, "every attempt carries a valid signature")
	flaky.mu.Lock()
	require.Equal(t, []string{got.ID, got.ID, got.ID}, flaky.ids, "Webhook-Id is stable across retries")
	var ce cloudEvent
	require.NoError(t, json.Unmarshal(flaky.bodies[2], &ce))
	flaky.mu.Unlock()
	require.Equal(t, eventID, ce.ID)
	require.Equal(t, bus.TypeAssessmentCompleted, ce.Type)
	require.Equal(t, "acme", ce.Tenant)
	require.Equal(t, assessmentID, ce.Subject)
	require.JSONEq(t, `{"status":"completed","report_path":"/v1/assessments/`+assessmentID+`/report"}`, string(ce.Data))

	// The endpoint that answered at once got the event once, however often
	// the other endpoint's delivery was retried.
	gotSteady := e.waitDelivery(t, wSteady, eventID)
	require.Len(t, gotSteady.Attempts, 1)
	requests, _ = steady.counts()
	require.Equal(t, 1, requests)

	// The delivery log lists the delivery under its webhook.
	log, err := e.store.Webhooks.ListDeliveries(context.Background(), "acme", wFlaky.ID)
	require.NoError(t, err)
	require.Len(t, log, 1)
	require.Len(t, log[0].Attempts, 3)

	// Neither a webhook for other event types nor another tenant's heard of it.
	requests, _ = statusOnly.counts()
	require.Zero(t, requests)
	requests, _ = otherTenant.counts()
	require.Zero(t, requests)
}

func TestDeliveryDeadLettersAfterTheLastAttempt(t *testing.T) {
	t.Parallel()
	e := newDispatchEnv(t, Config{
		Policy:      Policy{AllowPrivate: true},
		Timeout:     5 * time.Second,
		BackOff:     []time.Duration{10 * time.Millisecond},
		MaxAttempts: 3,
	})
	down := newReceiver(t, 1000)
	w := e.register(t, "acme", down, EventAssessmentCompleted)
	eventID := e.publishCompleted(t, "acme", uuid.NewString())

	got := e.waitDelivery(t, w, eventID)
	require.Equal(t, store.DeliveryFailed, got.Status)
	require.Len(t, got.Attempts, 3)
	require.True(t, got.Attempts[2].NextRetry.IsZero(), "no retry after the last attempt")

	subject := bus.SubjectDeadLetter(StreamWebhooks, DurableDelivery)
	require.Eventually(t, func() bool {
		st, err := e.bus.JS.Stream(context.Background(), bus.StreamDeadLetter)
		if err != nil {
			return false
		}
		info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
		return err == nil && info.State.Subjects[subject] == 1
	}, 10*time.Second, 20*time.Millisecond)
	requests, _ := down.counts()
	require.Equal(t, 3, requests)
}
