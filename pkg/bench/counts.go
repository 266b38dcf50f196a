package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Counts are what one assessment costs, counted at the edges over a
// one-at-a-time run: JetStream's own stream and consumer state, and the
// store commands every service process reports (store_commands_total).
type Counts struct {
	// Assessments is how many assessments the counts are divided by.
	Assessments int
	// Published is messages stored in the streams (stream sequence growth),
	// Delivered is deliveries to durable consumers (their delivered counts,
	// redeliveries included), APIRequests is JetStream API requests
	// (consumer creation and info, key-value reads, ...), all per assessment.
	Published, Delivered, APIRequests float64
	// Reads (find, aggregate, count, distinct, getMore) and Writes (insert,
	// update, delete, findAndModify) per assessment; Other is the rest
	// (hello, ping, endSessions, index declarations, ...).
	Reads, Writes, Other float64
	// ByCommand is every store command per assessment.
	ByCommand map[string]float64
	// Streams is messages per assessment by stream.
	Streams map[string]float64
}

// Messages is the publish+consume pairs one assessment costs: the raw
// baseline moves each message once in and once out, so an assessment's
// stored messages and deliveries are averaged into pairs.
func (c Counts) Messages() float64 { return (c.Published + c.Delivered) / 2 }

var (
	readCommands  = []string{"find", "aggregate", "count", "distinct", "getMore"}
	writeCommands = []string{"insert", "update", "delete", "findAndModify"}
)

// snapshot is the counters at one moment.
type snapshot struct {
	streams   map[string]uint64
	consumers map[string]uint64
	api       uint64
	store     map[string]float64
}

func takeSnapshot(ctx context.Context, natsURL string, sys System) (snapshot, error) {
	s := snapshot{streams: map[string]uint64{}, consumers: map[string]uint64{}}
	nc, err := nats.Connect(natsURL, nats.Name("infra-mind-bench"))
	if err != nil {
		return s, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return s, err
	}
	acc, err := js.AccountInfo(ctx)
	if err != nil {
		return s, fmt.Errorf("account info: %w", err)
	}
	s.api = acc.API.Total
	streams := js.ListStreams(ctx)
	for si := range streams.Info() {
		if si.Config.Name == baselineStream {
			continue
		}
		s.streams[si.Config.Name] = si.State.LastSeq
		st, err := js.Stream(ctx, si.Config.Name)
		if err != nil {
			return s, err
		}
		cons := st.ListConsumers(ctx)
		for ci := range cons.Info() {
			if ci.Config.Durable == "" {
				continue
			}
			s.consumers[si.Config.Name+"/"+ci.Name] = ci.Delivered.Consumer
		}
		if err := cons.Err(); err != nil {
			return s, fmt.Errorf("list consumers of %s: %w", si.Config.Name, err)
		}
	}
	if err := streams.Err(); err != nil {
		return s, fmt.Errorf("list streams: %w", err)
	}
	s.store, err = sys.StoreCommands(ctx)
	if err != nil {
		return s, fmt.Errorf("store commands: %w", err)
	}
	return s, nil
}

// countsBetween divides the growth from a to b by n assessments.
func countsBetween(a, b snapshot, n int) Counts {
	c := Counts{Assessments: n, ByCommand: map[string]float64{}, Streams: map[string]float64{}}
	if n <= 0 {
		return c
	}
	per := func(x float64) float64 { return x / float64(n) }
	for name, seq := range b.streams {
		if d := seq - a.streams[name]; d > 0 {
			c.Streams[name] = per(float64(d))
			c.Published += per(float64(d))
		}
	}
	for name, del := range b.consumers {
		c.Delivered += per(float64(del - min(del, a.consumers[name])))
	}
	c.APIRequests = per(float64(b.api - min(b.api, a.api)))
	for cmd, v := range b.store {
		d := per(v - a.store[cmd])
		if d <= 0 {
			continue
		}
		c.ByCommand[cmd] = d
		switch {
		case slices.Contains(readCommands, cmd):
			c.Reads += d
		case slices.Contains(writeCommands, cmd):
			c.Writes += d
		default:
			c.Other += d
		}
	}
	return c
}

// commandList is "find 4.0, insert 3.0, ..." largest first.
func (c Counts) commandList() string {
	names := slices.Collect(maps.Keys(c.ByCommand))
	slices.SortFunc(names, func(x, y string) int {
		if c.ByCommand[x] != c.ByCommand[y] {
			if c.ByCommand[x] > c.ByCommand[y] {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	})
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f", n, c.ByCommand[n]))
	}
	return strings.Join(parts, ", ")
}

// streamList is "RESULTS 6.0, EVENTS 8.0, ..." by name.
func (c Counts) streamList() string {
	names := slices.Sorted(maps.Keys(c.Streams))
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f", n, c.Streams[n]))
	}
	return strings.Join(parts, ", ")
}
