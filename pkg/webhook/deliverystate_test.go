package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// commandLog records "command collection" for each command the store sends.
type commandLog struct {
	mu  sync.Mutex
	got []string
}

func (c *commandLog) started(_ context.Context, e *event.CommandStartedEvent) {
	coll := ""
	if el, err := e.Command.IndexErr(0); err == nil {
		coll, _ = el.Value().StringValueOK()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, e.CommandName+" "+coll)
}

func (c *commandLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

// stateEnv is a dispatcher whose handlers a test calls directly, with its
// bucket bound as Run binds it, and a log of its store commands.
func stateEnv(t *testing.T) (*Dispatcher, *store.Store, *commandLog) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "webhook-state-test", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	cmds := &commandLog{}
	st, err := store.Connect(ctx, stack.MongoURI, "webhooks_state_test", store.WithCommandMonitor(&event.CommandMonitor{Started: cmds.started}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	d, err := New(b, st.Webhooks, nil, Config{Policy: Policy{AllowPrivate: true}, Timeout: 5 * time.Second})
	require.NoError(t, err)
	d.deliveries, err = b.JS.CreateOrUpdateKeyValue(ctx, bus.WebhookDeliveriesBucketConfig(1, time.Hour))
	require.NoError(t, err)
	return d, st, cmds
}

// deliveryEvent is the delivery message of event eventID to w as the runner
// hands it to Deliver.
func deliveryEvent(t *testing.T, w store.Webhook, eventID string) *bus.Event {
	t.Helper()
	data, err := json.Marshal(task{WebhookID: w.ID, EventID: eventID, EventType: EventAssessmentCompleted, Body: json.RawMessage(`{"id":"` + eventID + `"}`)})
	require.NoError(t, err)
	return &bus.Event{ID: "webhook." + store.DeliveryID(w.TenantID, w.ID, eventID), Type: TypeDelivery, Tenant: w.TenantID, Data: data, Deliveries: 1}
}

// TestADeliveryReadsNoDeliveryLog: a delivery's first attempt reads its
// state by key from the bucket and writes the delivery log with one insert;
// the only document read is the endpoint's. The delivery log grows with
// every event, and on FerretDB with PostgreSQL a read of it by key reads
// the whole table (ADR 0021).
func TestADeliveryReadsNoDeliveryLog(t *testing.T) {
	t.Parallel()
	d, st, cmds := stateEnv(t)
	r := newReceiver(t, 0)
	secret, err := NewSecret()
	require.NoError(t, err)
	w, err := st.Webhooks.Create(context.Background(), store.Webhook{ID: "w1", TenantID: "acme", URL: r.srv.URL + "/hooks", EventTypes: []string{EventAssessmentCompleted}, Secret: secret})
	require.NoError(t, err)
	r.mu.Lock()
	r.secret = w.Secret
	r.mu.Unlock()

	for i := range 3 {
		cmds.take()
		_, err := d.Deliver(context.Background(), deliveryEvent(t, w, fmt.Sprintf("e%d", i)))
		require.NoError(t, err)
		require.Equal(t, []string{"find " + store.CollWebhooks, "insert " + store.CollDeliveries}, cmds.take())
	}
	requests, verified := r.counts()
	require.Equal(t, 3, requests)
	require.Equal(t, 3, verified)

	// The same message again (a redelivery) posts nothing and reads nothing
	// from the store.
	_, err = d.Deliver(context.Background(), deliveryEvent(t, w, "e0"))
	require.NoError(t, err)
	require.Empty(t, cmds.take())
	requests, _ = r.counts()
	require.Equal(t, 3, requests)
}

// TestADeliveryWhoseLogWasNotWrittenIsLoggedWithoutPostingAgain: an attempt
// that stopped after keeping its outcome and before writing the delivery
// log is completed by the redelivery, which does not post again.
func TestADeliveryWhoseLogWasNotWrittenIsLoggedWithoutPostingAgain(t *testing.T) {
	t.Parallel()
	d, st, _ := stateEnv(t)
	r := newReceiver(t, 0)
	w, err := st.Webhooks.Create(context.Background(), store.Webhook{ID: "w1", TenantID: "acme", URL: r.srv.URL + "/hooks", EventTypes: []string{EventAssessmentCompleted}, Secret: "s"})
	require.NoError(t, err)
	id := store.DeliveryID("acme", w.ID, "e1")
	at := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, d.putState(context.Background(), deliveryState{Delivery: store.Delivery{
		ID: id, TenantID: "acme", WebhookID: w.ID, EventID: "e1", EventType: EventAssessmentCompleted,
		Status: store.DeliverySucceeded, Attempts: []store.DeliveryAttempt{{Attempt: 1, At: at, StatusCode: 204}}, CreatedAt: at,
	}}))
	_, err = st.Webhooks.GetDelivery(context.Background(), "acme", id)
	require.ErrorIs(t, err, store.ErrNotFound)

	_, err = d.Deliver(context.Background(), deliveryEvent(t, w, "e1"))
	require.NoError(t, err)
	got, err := st.Webhooks.GetDelivery(context.Background(), "acme", id)
	require.NoError(t, err)
	require.Equal(t, store.DeliverySucceeded, got.Status)
	require.Len(t, got.Attempts, 1)
	requests, _ := r.counts()
	require.Zero(t, requests, "a settled delivery is not posted again")
}
