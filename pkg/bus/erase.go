package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Erasure names one assessment whose messages are to be removed from the
// streams.
type Erasure struct {
	Tenant, AssessmentID string
	// Since is when the assessment was created; nothing about it was
	// published earlier, so older messages are not read. Zero reads all.
	Since time.Time
	// EventIDs are the ids (ce-id) of the assessment's events: the webhook
	// deliveries of those events are removed too.
	EventIDs []string
	// DeliveryIDs are the ids of those deliveries, under which the webhook
	// dispatcher keeps each one's state (BucketWebhookDeliveries).
	DeliveryIDs []string
}

// sinceSkew is how far before Erasure.Since the scans start: the broker
// stamps messages with its own clock, not the creator's.
const sinceSkew = 5 * time.Minute

// scanBatch is how many messages a scan asks for at once.
const scanBatch = 256

// scanWait bounds the one wait of a scan whose first request found nothing.
const scanWait = time.Second

// AssessmentEventIDs returns the ids (ce-id) of the events on the
// assessment's subjects (status, completed and narrative) that EVENTS holds.
func (b *Bus) AssessmentEventIDs(ctx context.Context, tenant, assessmentID string) ([]string, error) {
	if tenant == "" || assessmentID == "" {
		return nil, errors.New("bus: event ids: tenant and assessment id are required")
	}
	var ids []string
	_, err := b.scan(ctx, StreamEvents, SubjectAssessmentEvents(tenant, assessmentID), time.Time{}, true, func(m jetstream.Msg) bool {
		if id := m.Headers().Get(HeaderID); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		return false
	})
	return ids, err
}

// EraseAssessment removes what the streams hold about one assessment: its
// events (purged by subject from EVENTS), its request (ASSESSMENTS) and its
// families' results (RESULTS), its deadline schedule (DEADLINES), the webhook deliveries of its events and
// their state (WEBHOOKS, BucketWebhookDeliveries) and the dead letters of
// any of those. Requests, results and deliveries share a subject per tenant,
// so the tenant's messages since the assessment was created are read (the
// headers only) and the assessment's deleted one by one, overwriting their
// stored bytes (secure delete). It returns how many messages or keys it
// removed per stream or bucket; removing what is gone is not an error.
func (b *Bus) EraseAssessment(ctx context.Context, e Erasure) (map[string]int, error) {
	if e.Tenant == "" || e.AssessmentID == "" {
		return nil, errors.New("bus: erase: tenant and assessment id are required")
	}
	since := time.Time{}
	if !e.Since.IsZero() {
		since = e.Since.Add(-sinceSkew)
	}
	out := map[string]int{}
	ofAssessment := func(m jetstream.Msg) bool {
		return header(m, HeaderSubject) == e.AssessmentID && header(m, HeaderTenant) == e.Tenant
	}
	// Events: one subject per assessment, purged whole.
	n, err := b.purgeSubject(ctx, StreamEvents, SubjectAssessmentEvents(e.Tenant, e.AssessmentID))
	if err != nil {
		return out, err
	}
	out[StreamEvents] = n
	// Deadlines: the assessment's schedule and the deadline it published
	// when due, one subject each, purged whole.
	for _, subject := range []string{SubjectDeadlineSchedule(e.Tenant, e.AssessmentID), SubjectDeadlineDue(e.Tenant, e.AssessmentID)} {
		n, err := b.purgeSubject(ctx, StreamDeadlines, subject)
		if err != nil {
			return out, err
		}
		out[StreamDeadlines] += n
	}
	for _, s := range []struct{ stream, subject string }{
		{StreamAssessments, SubjectRequested(e.Tenant)},
		{StreamResults, prefixResult + e.Tenant + ".>"},
	} {
		n, err := b.eraseMatching(ctx, s.stream, s.subject, since, true, ofAssessment)
		if err != nil {
			return out, err
		}
		out[s.stream] = n
	}
	// A delivery's CloudEvents subject is the event it carries.
	ofEvents := func(m jetstream.Msg) bool {
		return header(m, HeaderTenant) == e.Tenant && slices.Contains(e.EventIDs, header(m, HeaderSubject))
	}
	if len(e.EventIDs) > 0 {
		n, err := b.eraseMatching(ctx, StreamWebhooks, SubjectWebhookDelivery(e.Tenant), since, true, ofEvents)
		if err != nil {
			return out, err
		}
		out[StreamWebhooks] = n
	}
	// A dead letter carries the original message's headers in its data.
	n, err = b.eraseMatching(ctx, StreamDeadLetter, prefixDeadLetter+">", since, false, func(m jetstream.Msg) bool {
		if header(m, HeaderTenant) != e.Tenant {
			return false
		}
		var dl inframindv1.DeadLetter
		if err := protojson.Unmarshal(m.Data(), &dl); err != nil {
			return false
		}
		subject := ""
		for k, v := range dl.GetHeaders() {
			if strings.EqualFold(k, HeaderSubject) {
				subject = v
			}
		}
		return subject == e.AssessmentID || slices.Contains(e.EventIDs, subject)
	})
	if err != nil {
		return out, err
	}
	out[StreamDeadLetter] = n
	if len(e.DeliveryIDs) > 0 {
		n, err := b.purgeKeys(ctx, BucketWebhookDeliveries, e.DeliveryIDs)
		if err != nil {
			return out, err
		}
		out[BucketWebhookDeliveries] = n
	}
	return out, nil
}

// header reads a header whatever the case its writer gave the name.
func header(m jetstream.Msg, name string) string {
	h := m.Headers()
	if v := h.Get(name); v != "" {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// purgeSubject purges subject from stream and returns how many messages it
// held. A stream that is not declared holds nothing.
func (b *Bus) purgeSubject(ctx context.Context, stream, subject string) (int, error) {
	st, err := b.JS.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bus: open stream %s: %w", stream, err)
	}
	n, err := subjectCount(ctx, st, subject)
	if err != nil || n == 0 {
		return 0, err
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return 0, fmt.Errorf("bus: purge %s from %s: %w", subject, stream, err)
	}
	return n, nil
}

// subjectCount is how many messages st holds on subject (a filter).
func subjectCount(ctx context.Context, st jetstream.Stream, subject string) (int, error) {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("bus: count %s: %w", subject, err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c) //nolint:gosec // a stream's message count fits an int
	}
	return n, nil
}

// eraseMatching deletes, overwriting their stored bytes, the messages of
// stream on subject (a filter) published since since for which match holds.
func (b *Bus) eraseMatching(ctx context.Context, stream, subject string, since time.Time, headersOnly bool, match func(jetstream.Msg) bool) (int, error) {
	seqs, err := b.scan(ctx, stream, subject, since, headersOnly, match)
	if err != nil || len(seqs) == 0 {
		return 0, err
	}
	st, err := b.JS.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("bus: open stream %s: %w", stream, err)
	}
	n := 0
	for _, seq := range seqs {
		err := st.SecureDeleteMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
			continue // removed meanwhile (its age, or a concurrent erasure)
		}
		if err != nil {
			return n, fmt.Errorf("bus: delete message %d of %s: %w", seq, stream, err)
		}
		n++
	}
	return n, nil
}

// scan reads the messages of stream on subject (a filter) published since
// since (zero: all), in order, with an ordered consumer that leaves no
// state behind, and returns the stream sequences of those match holds for.
// It ends at the last message the stream held when it began.
func (b *Bus) scan(ctx context.Context, stream, subject string, since time.Time, headersOnly bool, match func(jetstream.Msg) bool) ([]uint64, error) {
	st, err := b.JS.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bus: open stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("bus: count %s: %w", subject, err)
	}
	if len(info.State.Subjects) == 0 {
		return nil, nil
	}
	last := info.State.LastSeq
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy, HeadersOnly: headersOnly}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := b.JS.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: read %s from %s: %w", subject, stream, err)
	}
	var seqs []uint64
	confirm := false
	for {
		// No wait: a fetch that waits for a whole batch would wait out
		// its timeout on the last, short one.
		var batch jetstream.MessageBatch
		if confirm {
			batch, err = cons.Fetch(1, jetstream.FetchMaxWait(scanWait))
		} else {
			batch, err = cons.FetchNoWait(scanBatch)
		}
		if err != nil {
			return nil, fmt.Errorf("bus: read %s from %s: %w", subject, stream, err)
		}
		got, done := 0, false
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("bus: read %s from %s: %w", subject, stream, err)
			}
			if match(m) {
				seqs = append(seqs, meta.Sequence.Stream)
			}
			if meta.NumPending == 0 || meta.Sequence.Stream >= last {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("bus: read %s from %s: %w", subject, stream, err)
		}
		switch {
		case done || (got == 0 && confirm):
			return seqs, nil
		case got == 0:
			// Nothing at once: the stream may have no message since since,
			// or the consumer was not ready to answer. Wait once to tell.
			confirm = true
		default:
			confirm = false
		}
	}
}

// purgeKeys purges keys from bucket and returns how many held a value. A
// bucket that is not declared holds nothing.
func (b *Bus) purgeKeys(ctx context.Context, bucket string, keys []string) (int, error) {
	kv, err := b.JS.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bus: open bucket %s: %w", bucket, err)
	}
	n := 0
	for _, k := range keys {
		_, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("bus: read %s from %s: %w", k, bucket, err)
		}
		if err := kv.Purge(ctx, k); err != nil {
			return n, fmt.Errorf("bus: purge %s from %s: %w", k, bucket, err)
		}
		n++
	}
	return n, nil
}
