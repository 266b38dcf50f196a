package synth

import (
	"bytes"
	"container/list"
	"sync"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Bounds of the decoded results kept. Entries leave when their assessment
// closes, so in steady state the cache holds the assessments in flight: the
// benchmark's request stores about 364 KB of results per assessment, so
// maxDecodedBytes holds about 90 such assessments at once. Beyond either
// bound the oldest entry goes; a result not held is decoded as before.
const (
	maxDecodedEntries = 4096
	maxDecodedBytes   = 32 << 20
)

// resultKey names one family's result of one assessment.
type resultKey struct{ tenant, assessment, family string }

type decodedEntry struct {
	key resultKey
	seq uint64 // the RESULTS stream sequence raw came in; 0 when not known
	raw []byte
	msg *inframindv1.AgentResultPublished
}

// decodedResults keeps the results this process decoded as it handled them,
// with the bytes they were decoded from, so closing an assessment does not
// parse again the results its earlier deliveries parsed (decodeResults). A
// result is reused only for the very bytes it was decoded from, so a
// result stored again with other content is never served stale, and one
// stored by another replica is decoded. The messages are shared read-only:
// the report and the recommendations only read them (TestBuildersDoNotMutateResults).
// Safe for concurrent use; a nil *decodedResults holds nothing.
type decodedResults struct {
	mu      sync.Mutex
	entries map[resultKey]*list.Element
	order   *list.List // oldest first
	bytes   int
}

func newDecodedResults() *decodedResults {
	return &decodedResults{entries: map[resultKey]*list.Element{}, order: list.New()}
}

// put keeps msg, decoded from raw, which came in the RESULTS stream's
// message seq (0: not known), as k's result; neither may change after.
func (c *decodedResults) put(k resultKey, seq uint64, raw []byte, msg *inframindv1.AgentResultPublished) {
	if c == nil || len(raw) > maxDecodedBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		c.remove(el)
	}
	c.entries[k] = c.order.PushBack(&decodedEntry{key: k, seq: seq, raw: raw, msg: msg})
	c.bytes += len(raw)
	for c.order.Len() > maxDecodedEntries || c.bytes > maxDecodedBytes {
		c.remove(c.order.Front())
	}
}

// get returns k's decoded result if it was decoded from exactly raw.
func (c *decodedResults) get(k resultKey, raw []byte) (*inframindv1.AgentResultPublished, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	el, ok := c.entries[k]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	// An entry is never changed once added, only removed, so it is read
	// outside the lock.
	e := el.Value.(*decodedEntry)
	if !bytes.Equal(e.raw, raw) {
		return nil, false
	}
	return e.msg, true
}

// stored returns the bytes of k's result if they came in the RESULTS
// stream's message seq: a stored reference to that message needs no read.
func (c *decodedResults) stored(k resultKey, seq uint64) ([]byte, bool) {
	if c == nil || seq == 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*decodedEntry)
	if e.seq != seq {
		return nil, false
	}
	return e.raw, true
}

// drop forgets the results of an assessment (once it is closed or erased).
func (c *decodedResults) drop(tenant, assessmentID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range assessment.Families() {
		if el, ok := c.entries[resultKey{tenant, assessmentID, string(f)}]; ok {
			c.remove(el)
		}
	}
}

// remove deletes el; the caller holds mu.
func (c *decodedResults) remove(el *list.Element) {
	e := c.order.Remove(el).(*decodedEntry)
	delete(c.entries, e.key)
	c.bytes -= len(e.raw)
}

// len is how many results are held.
func (c *decodedResults) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
