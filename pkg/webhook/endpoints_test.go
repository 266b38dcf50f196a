package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
	"github.com/infra-mind/infra-mind/pkg/store/readmodel"
)

// TestFanOutReadsATenantsWebhooksOnceAndSeesEveryChangeAtOnce: the fan-out
// handles every status and completed event of an assessment (about nine),
// and used to list the tenant's webhooks for each, a find on webhooks that
// FerretDB on PostgreSQL serves by reading the whole table. It now keeps a
// copy per tenant, read again only when the tenant's webhooks changed,
// which another process (the gateway that registers or deletes one) marks in
// the read model's bucket: the dispatcher sees the change at its next event,
// never a stale endpoint.
func TestFanOutReadsATenantsWebhooksOnceAndSeesEveryChangeAtOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(stack.Close)
	// Two processes on one broker and one database, as the services run:
	// the dispatcher's and the gateway's.
	var dispatcherBus *bus.Bus
	replica := func(name string, opts ...store.Option) *store.Store {
		b, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: name, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		st, err := store.Connect(ctx, stack.MongoURI, "webhook_endpoints", opts...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close(context.Background()) })
		_, err = readmodel.Use(ctx, b.JS, st, nil)
		require.NoError(t, err)
		if dispatcherBus == nil {
			dispatcherBus = b
		}
		return st
	}
	cmds := &commandLog{}
	dispatcherStore := replica("dispatcher", store.WithCommandMonitor(&event.CommandMonitor{Started: cmds.started}))
	gatewayStore := replica("gateway")
	d, err := New(dispatcherBus, dispatcherStore.Webhooks, nil, Config{Policy: Policy{AllowPrivate: true}})
	require.NoError(t, err)

	register := func(id string) store.Webhook {
		w, err := gatewayStore.Webhooks.Create(ctx, store.Webhook{ID: id, TenantID: "acme", URL: "https://hooks.example.com/" + id,
			EventTypes: []string{EventAssessmentCompleted, EventAssessmentStatus}, Secret: "s", CreatedAt: time.Now().Add(-time.Hour)})
		require.NoError(t, err)
		return w
	}
	endpoints := func(eventID string) []string {
		out, err := d.FanOut(ctx, &bus.Event{ID: eventID, Type: bus.TypeStatusChanged, Tenant: "acme", Data: []byte(`{}`)})
		require.NoError(t, err)
		var ids []string
		for _, m := range out {
			var tk task
			require.NoError(t, decodeTask(m, &tk))
			ids = append(ids, tk.WebhookID)
		}
		return ids
	}
	finds := func() int {
		n := 0
		for _, c := range cmds.take() {
			if c == "find "+store.CollWebhooks {
				n++
			}
		}
		return n
	}

	register("w1")
	cmds.take()
	for i := range 9 {
		require.Equal(t, []string{"w1"}, endpoints(fmt.Sprintf("e%d", i)))
	}
	require.Equal(t, 1, finds(), "nine events of one assessment read the tenant's webhooks once")

	register("w2")
	require.Equal(t, []string{"w1", "w2"}, endpoints("e-after-create"), "a webhook registered elsewhere is posted to from the next event")
	require.NoError(t, gatewayStore.Webhooks.Delete(ctx, "acme", "w1"))
	require.Equal(t, []string{"w2"}, endpoints("e-after-delete"), "a webhook deleted elsewhere is not posted to from the next event")
	_, err = dispatcherStore.Webhooks.Endpoint(ctx, "acme", "w1")
	require.ErrorIs(t, err, store.ErrNotFound, "a pending retry of the deleted webhook finds no endpoint")
	w2, err := dispatcherStore.Webhooks.Endpoint(ctx, "acme", "w2")
	require.NoError(t, err)
	require.Equal(t, "https://hooks.example.com/w2", w2.URL)
	require.Equal(t, 2, finds(), "one read per change")
}

// decodeTask reads the task a delivery message carries.
func decodeTask(m bus.Message, tk *task) error {
	b, ok := m.Data.([]byte)
	if !ok {
		return fmt.Errorf("delivery data is %T", m.Data)
	}
	return json.Unmarshal(b, tk)
}
