package bus_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
)

// TestConnectInProcessUsesThePipe holds that a Bus given the embedded broker
// reaches it over the in-memory pipe, not the URL: the URL here is a port
// that refuses connections, yet the streams are declared, a message is
// stored and read back, and the connection reports itself healthy.
func TestConnectInProcessUsesThePipe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := startStack(t, devstack.Config{SkipMongo: true, SkipRedis: true})

	// A port nothing listens on: bind one, note it, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "nats://" + l.Addr().String()
	require.NoError(t, l.Close())
	_, err = bus.Connect(ctx, bus.Config{URL: refused, Name: t.Name(), Logger: quietLogger()})
	require.Error(t, err, "the URL alone must not reach a broker")

	b, err := bus.Connect(ctx, bus.Config{URL: refused, Name: t.Name(), Logger: quietLogger(), InProcess: st.NATSInProcess()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	require.NoError(t, b.Ping(ctx))

	ack, err := b.JS.Publish(ctx, bus.SubjectResult("acme", "cloud"), []byte(`{}`))
	require.NoError(t, err)
	stream, err := b.JS.Stream(ctx, ack.Stream)
	require.NoError(t, err)
	got, err := stream.GetMsg(ctx, ack.Sequence)
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(got.Data))
}
