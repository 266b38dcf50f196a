package readmodel

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// A tenant's list is a sorted index split into chunks (ADR 0048):
//
//	x.<th>          the directory: the lower bound of every chunk, newest first
//	p.<th>.<chunk>  a chunk: its range [from, to) and its positions, newest first
//
// Chunk i of the directory holds the positions in [from_i, from_i-1); the
// last chunk starts at the lowest position. A chunk that grows past
// chunkMax is split in three compare-and-set steps that any writer can
// finish for another (seal it, create its newer half under a key derived
// from the half's lower bound, add that bound to the directory, then cut
// the sealed chunk down to its older half), so a page reads the directory
// and one or two chunks, however many assessments the tenant has.
//
// A reader keeps from each chunk only the positions inside the range the
// directory it read gives that chunk, and starts again when a chunk's own
// range is narrower than that (the directory it read is older than a
// split): a position is never shown twice or skipped.

// chunkMax is the most positions a chunk holds before it is split in two
// halves; a page (at most store.MaxListLimit+1 positions) then spans at
// most two or three chunks.
const chunkMax = 256

// indexAttempts bounds the compare-and-set retries of one index write;
// every new assessment of a tenant lands in its newest chunk, so writers
// of one tenant meet there and back off a little between attempts.
const indexAttempts = 200

// pos is a position in a tenant's list: created time in milliseconds and id.
type pos struct {
	ms int64
	id string
}

// lowest is below every position: the lower bound of a tenant's oldest chunk.
var lowest = pos{ms: math.MinInt64}

// A position is written as the JSON array [ms, id] (positions.go).
func (p pos) MarshalJSON() ([]byte, error) { return appendPos(nil, p) }

// UnmarshalJSON reads [ms, id]. encoding/json hands an Unmarshaler valid
// JSON only: it checks the whole document before decoding it.
func (p *pos) UnmarshalJSON(b []byte) error {
	var err error
	*p, err = posOfJSON(gjson.ParseBytes(b))
	return err
}

// cmpPos orders positions oldest first by (created_at, id).
func cmpPos(a, b pos) int {
	if a.ms != b.ms {
		if a.ms < b.ms {
			return -1
		}
		return 1
	}
	return strings.Compare(a.id, b.id)
}

// newestFirst orders positions newest first.
func newestFirst(a, b pos) int { return cmpPos(b, a) }

func posOf(at time.Time, id string) pos { return pos{ms: at.UnixMilli(), id: id} }

func (p pos) listPosition() store.ListPosition {
	return store.ListPosition{At: time.UnixMilli(p.ms).UTC(), ID: p.id}
}

// chunkToken names the chunk whose lower bound is from.
func chunkToken(from pos) string {
	if from == lowest {
		return "oldest"
	}
	return strconv.FormatInt(from.ms, 10) + "_" + idToken(from.id)
}

func dirKey(tenant string) string { return "x." + tenantHash(tenant) }

func chunkKey(tenant string, from pos) string {
	return "p." + tenantHash(tenant) + "." + chunkToken(from)
}

// directory is a tenant's x key.
type directory struct {
	// From holds the lower bound of every chunk, newest first; the last is lowest.
	From []pos `json:"from"`
	// Legacy says the tenant has keys of the layout before ADR 0048 (hour
	// lists) not yet copied into the index; Had that it ever had them.
	Legacy bool `json:"legacy,omitempty"`
	Had    bool `json:"had,omitempty"`
}

// upper is the exclusive upper bound of chunk i (nil: none).
func (d directory) upper(i int) *pos {
	if i == 0 {
		return nil
	}
	return &d.From[i-1]
}

// find is the index of the chunk holding p.
func (d directory) find(p pos) int {
	for i, f := range d.From {
		if cmpPos(f, p) <= 0 {
			return i
		}
	}
	return len(d.From) - 1
}

// chunk is a p key.
type chunk struct {
	From pos  `json:"from"`
	To   *pos `json:"to,omitempty"` // exclusive; nil: no upper bound
	// Sealed says a split has begun: no position is added or removed until
	// it ends, and any writer may end it.
	Sealed bool      `json:"sealed,omitempty"`
	Items  positions `json:"items"` // newest first
}

func (c chunk) covers(p pos) bool {
	return cmpPos(c.From, p) <= 0 && (c.To == nil || cmpPos(p, *c.To) < 0)
}

// narrower says the chunk ends below hi, the bound a directory gives it.
func (c chunk) narrower(hi *pos) bool {
	return c.To != nil && (hi == nil || cmpPos(*c.To, *hi) < 0)
}

// backoff waits a little, more after each failed attempt, so writers that
// meet on one key spread out.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(100*time.Microsecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Model) readDir(ctx context.Context, tenant string) (directory, uint64, bool, error) {
	e, found, err := m.get(ctx, dirKey(tenant))
	if err != nil || !found {
		return directory{}, 0, false, err
	}
	var d directory
	if err := json.Unmarshal(e.Value(), &d); err != nil || len(d.From) == 0 {
		return directory{}, 0, false, fmt.Errorf("readmodel: decode the list directory of a tenant: %w", errors.Join(err, errors.New("no chunk")))
	}
	return d, e.Revision(), true, nil
}

func (m *Model) readChunk(ctx context.Context, tenant string, from pos) (chunk, uint64, bool, error) {
	e, found, err := m.get(ctx, chunkKey(tenant, from))
	if err != nil || !found {
		return chunk{}, 0, false, err
	}
	var c chunk
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return chunk{}, 0, false, fmt.Errorf("readmodel: decode a list chunk: %w", err)
	}
	return c, e.Revision(), true, nil
}

func (m *Model) createJSON(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = m.kv.Create(ctx, key, b)
	return err
}

func (m *Model) updateJSON(ctx context.Context, key string, v any, rev uint64) error {
	_, err := m.updateJSONRev(ctx, key, v, rev)
	return err
}

// updateJSONRev is updateJSON returning the new revision.
func (m *Model) updateJSONRev(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	return m.kv.Update(ctx, key, b, rev)
}

// directory returns the tenant's directory, creating it when create is
// set, and copying keys of the layout before ADR 0048 into the index
// first when the tenant has them. found is false for a tenant that has
// never had an assessment (and create is not set).
func (m *Model) directory(ctx context.Context, tenant string, create bool) (directory, bool, error) {
	for attempt := range indexAttempts {
		d, _, found, err := m.readDir(ctx, tenant)
		if err != nil {
			return directory{}, false, err
		}
		if found && !d.Legacy {
			return d, true, nil
		}
		if found {
			if err := m.migrate(ctx, tenant); err != nil {
				return directory{}, false, err
			}
			continue
		}
		_, legacy, err := m.get(ctx, legacyHoursKey(tenant))
		if err != nil {
			return directory{}, false, err
		}
		if !legacy && !create {
			return directory{}, false, nil
		}
		// The oldest chunk first: a directory names only chunks that exist.
		if err := m.createJSON(ctx, chunkKey(tenant, lowest), chunk{From: lowest, Items: []pos{}}); err != nil && !conflict(err) {
			return directory{}, false, fmt.Errorf("readmodel: create the list of a tenant: %w", err)
		}
		err = m.createJSON(ctx, dirKey(tenant), directory{From: []pos{lowest}, Legacy: legacy, Had: legacy})
		if err != nil && !conflict(err) {
			return directory{}, false, fmt.Errorf("readmodel: create the list directory of a tenant: %w", err)
		}
		if err != nil {
			if err := backoff(ctx, attempt); err != nil {
				return directory{}, false, err
			}
		}
	}
	return directory{}, false, fmt.Errorf("readmodel: the list directory of a tenant: %d concurrent writers won", indexAttempts)
}

// insert adds ps (any order) to the tenant's list; a position already
// there stays once.
func (m *Model) insert(ctx context.Context, tenant string, ps ...pos) error {
	if len(ps) == 0 {
		return nil
	}
	if _, _, err := m.directory(ctx, tenant, true); err != nil {
		return err
	}
	return m.change(ctx, tenant, ps, true)
}

// remove takes ps out of the tenant's list.
func (m *Model) remove(ctx context.Context, tenant string, ps ...pos) error {
	if len(ps) == 0 {
		return nil
	}
	if _, found, err := m.directory(ctx, tenant, false); err != nil || !found {
		return err
	}
	return m.change(ctx, tenant, ps, false)
}

// change adds (or removes) ps, one chunk at a time, and splits a chunk it
// grew past chunkMax.
func (m *Model) change(ctx context.Context, tenant string, ps []pos, add bool) error {
	todo := slices.Clone(ps)
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt == indexAttempts {
			return fmt.Errorf("readmodel: write the list of a tenant: %d concurrent writers won", indexAttempts)
		}
		d, _, found, err := m.readDir(ctx, tenant)
		if err != nil {
			return err
		}
		if !found {
			return errors.New("readmodel: write the list of a tenant: its directory is gone")
		}
		i := d.find(todo[0])
		from := d.From[i]
		c, rev, found, err := m.readChunk(ctx, tenant, from)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("readmodel: write the list of a tenant: chunk %s is gone", chunkToken(from))
		}
		if c.Sealed {
			if err := m.finishSplit(ctx, tenant, c, rev); err != nil {
				return err
			}
			continue
		}
		// The positions this chunk holds; the others wait for their turn.
		var here, rest []pos
		for _, p := range todo {
			if c.covers(p) {
				here = append(here, p)
			} else {
				rest = append(rest, p)
			}
		}
		if len(here) == 0 {
			// The directory was read before a split of this chunk ended.
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
			continue
		}
		items, changed := apply(c.Items, here, add)
		if !changed {
			todo = rest
			continue
		}
		c.Items = items
		if err := m.updateJSON(ctx, chunkKey(tenant, from), c, rev); conflict(err) {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
			continue
		} else if err != nil {
			return fmt.Errorf("readmodel: write the list of a tenant: %w", err)
		}
		todo = rest
		if add && len(c.Items) > chunkMax {
			if err := m.split(ctx, tenant, from); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply adds or removes ps in items (newest first) and says whether
// anything changed.
func apply(items, ps []pos, add bool) ([]pos, bool) {
	out := slices.Clone(items)
	changed := false
	for _, p := range ps {
		i, ok := slices.BinarySearchFunc(out, p, newestFirst)
		switch {
		case add && !ok:
			out = slices.Insert(out, i, p)
			changed = true
		case !add && ok:
			out = slices.Delete(out, i, i+1)
			changed = true
		}
	}
	return out, changed
}

// split splits the chunk starting at from while it holds more than
// chunkMax positions: seal it, then finish.
func (m *Model) split(ctx context.Context, tenant string, from pos) error {
	for attempt := range indexAttempts {
		c, rev, found, err := m.readChunk(ctx, tenant, from)
		if err != nil || !found || len(c.Items) <= chunkMax {
			return err
		}
		if !c.Sealed {
			c.Sealed = true
			sealed, err := m.updateJSONRev(ctx, chunkKey(tenant, from), c, rev)
			if conflict(err) {
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
				continue
			} else if err != nil {
				return fmt.Errorf("readmodel: split a list chunk: %w", err)
			}
			rev = sealed
		}
		if err := m.finishSplit(ctx, tenant, c, rev); err != nil {
			return err
		}
	}
	return nil
}

// finishSplit ends the split of sealed chunk c (at revision rev): its
// newer half becomes a chunk of its own, named in the directory, and c
// keeps the older half. Every step is idempotent, so any writer that
// meets a sealed chunk finishes the split for a writer that stopped.
func (m *Model) finishSplit(ctx context.Context, tenant string, c chunk, rev uint64) error {
	n := len(c.Items)
	if n < 2 {
		// Nothing to split: unseal.
		c.Sealed = false
		if err := m.updateJSON(ctx, chunkKey(tenant, c.From), c, rev); err != nil && !conflict(err) {
			return fmt.Errorf("readmodel: split a list chunk: %w", err)
		}
		return nil
	}
	newer, older := c.Items[:n/2], c.Items[n/2:]
	mid := newer[len(newer)-1]
	half := chunk{From: mid, To: c.To, Items: slices.Clone(newer)}
	if err := m.createJSON(ctx, chunkKey(tenant, mid), half); err != nil && !conflict(err) {
		return fmt.Errorf("readmodel: split a list chunk: %w", err)
	}
	for attempt := 0; ; attempt++ {
		if attempt == indexAttempts {
			return fmt.Errorf("readmodel: split a list chunk: %d concurrent writers won", indexAttempts)
		}
		d, drev, found, err := m.readDir(ctx, tenant)
		if err != nil {
			return err
		}
		if !found {
			return errors.New("readmodel: split a list chunk: the directory is gone")
		}
		i, ok := slices.BinarySearchFunc(d.From, mid, newestFirst)
		if ok {
			break
		}
		d.From = slices.Insert(d.From, i, mid)
		if err := m.updateJSON(ctx, dirKey(tenant), d, drev); err == nil {
			break
		} else if !conflict(err) {
			return fmt.Errorf("readmodel: split a list chunk: %w", err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	cut := chunk{From: c.From, To: &mid, Items: slices.Clone(older)}
	if err := m.updateJSON(ctx, chunkKey(tenant, c.From), cut, rev); err != nil && !conflict(err) {
		return fmt.Errorf("readmodel: split a list chunk: %w", err)
	}
	return nil
}

// page reads up to limit positions of the tenant's list, newest first,
// after before when it is not nil.
func (m *Model) page(ctx context.Context, tenant string, before *pos, limit int) ([]pos, error) {
	for attempt := range indexAttempts {
		d, found, err := m.directory(ctx, tenant, false)
		if err != nil || !found {
			return nil, err
		}
		out, stale, err := m.walk(ctx, tenant, d, before, limit)
		if err != nil || !stale {
			return out, err
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("readmodel: list: the directory kept changing (%d reads)", indexAttempts)
}

// walk reads chunks of d from the one holding before down; stale says a
// chunk was split after d was read, and the caller reads d again.
func (m *Model) walk(ctx context.Context, tenant string, d directory, before *pos, limit int) ([]pos, bool, error) {
	start := 0
	if before != nil {
		start = d.find(*before)
	}
	var out []pos
	for i := start; i < len(d.From); i++ {
		c, _, found, err := m.readChunk(ctx, tenant, d.From[i])
		if err != nil {
			return nil, false, err
		}
		hi := d.upper(i)
		if !found || c.narrower(hi) {
			return nil, true, nil
		}
		for _, p := range c.Items {
			if hi != nil && cmpPos(p, *hi) >= 0 {
				continue // a sealed chunk's newer half, read from its own chunk
			}
			if before != nil && cmpPos(p, *before) >= 0 {
				continue
			}
			out = append(out, p)
			if len(out) == limit {
				return out, false, nil
			}
		}
	}
	return out, false, nil
}

// children is a parent's v key: its children of one kind, oldest first.
type children struct {
	Items positions `json:"items"`
}

func childrenKey(tenant, parentID, kind string) string {
	return "v." + tenantHash(tenant) + "." + idToken(parentID) + "." + kind
}

// readChildren returns the parent's children of kind, oldest first.
func (m *Model) readChildren(ctx context.Context, tenant, parentID, kind string) ([]pos, uint64, bool, error) {
	e, found, err := m.get(ctx, childrenKey(tenant, parentID, kind))
	if err != nil || !found {
		return nil, 0, false, err
	}
	var c children
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return nil, 0, false, fmt.Errorf("readmodel: decode the children of %s: %w", parentID, err)
	}
	return c.Items, e.Revision(), true, nil
}

// changeChild adds (or removes) ps to the parent's children of kind.
func (m *Model) changeChild(ctx context.Context, tenant, parentID, kind string, ps []pos, add bool) error {
	key := childrenKey(tenant, parentID, kind)
	for attempt := range indexAttempts {
		items, rev, found, err := m.readChildren(ctx, tenant, parentID, kind)
		if err != nil {
			return err
		}
		if !found && !add {
			return nil
		}
		// apply keeps newest first; children are kept oldest first.
		slices.Reverse(items)
		items, changed := apply(items, ps, add)
		if !changed {
			return nil
		}
		slices.Reverse(items)
		v := children{Items: items}
		if found {
			err = m.updateJSON(ctx, key, v, rev)
		} else {
			err = m.createJSON(ctx, key, v)
		}
		if err == nil {
			return nil
		}
		if !conflict(err) {
			return fmt.Errorf("readmodel: list the children of %s: %w", parentID, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("readmodel: list the children of %s: %d concurrent writers won", parentID, indexAttempts)
}

// The layout before ADR 0048, read only to copy it into the index:
//
//	h.<th>                              the hours the tenant created assessments in
//	l.<th>.<hour>.<created ms>.<id>     one per assessment
//	k.<th>.<parent>.<kind>.<ms>.<id>    one per version or scenario
func legacyHoursKey(tenant string) string { return "h." + tenantHash(tenant) }

// migrate copies the tenant's keys of the layout before ADR 0048 into the
// index, then marks the directory done. It may run in several processes
// at once: every copy is idempotent.
func (m *Model) migrate(ctx context.Context, tenant string) error {
	th := tenantHash(tenant)
	keys, err := m.keys(ctx, "l."+th+".>")
	if err != nil {
		return fmt.Errorf("readmodel: copy the hour lists of a tenant: %w", err)
	}
	var ps []pos
	for _, k := range keys {
		if p, ok := legacyPosition(k); ok {
			ps = append(ps, p)
		}
	}
	for b := range slices.Chunk(ps, chunkMax) {
		if err := m.change(ctx, tenant, b, true); err != nil {
			return err
		}
	}
	if keys, err = m.keys(ctx, "k."+th+".>"); err != nil {
		return fmt.Errorf("readmodel: copy the children lists of a tenant: %w", err)
	}
	for _, k := range keys {
		parts := strings.Split(k, ".")
		p, ok := legacyPosition(k)
		if len(parts) != 6 || !ok {
			continue
		}
		parent, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			continue
		}
		if err := m.changeChild(ctx, tenant, string(parent), parts[3], []pos{p}, true); err != nil {
			return err
		}
	}
	for attempt := range indexAttempts {
		d, rev, found, err := m.readDir(ctx, tenant)
		if err != nil || !found || !d.Legacy {
			return err
		}
		d.Legacy = false
		if err := m.updateJSON(ctx, dirKey(tenant), d, rev); err == nil {
			return nil
		} else if !conflict(err) {
			return fmt.Errorf("readmodel: mark the list of a tenant copied: %w", err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("readmodel: mark the list of a tenant copied: %d concurrent writers won", indexAttempts)
}

// legacyPosition parses the last two tokens of an l or k key.
func legacyPosition(key string) (pos, bool) {
	parts := strings.Split(key, ".")
	if len(parts) < 2 {
		return pos{}, false
	}
	ms, err := strconv.ParseInt(parts[len(parts)-2], 10, 64)
	if err != nil {
		return pos{}, false
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[len(parts)-1])
	if err != nil {
		return pos{}, false
	}
	return pos{ms: ms, id: string(id)}, true
}

// readDirOnly reads the tenant's directory without creating or copying anything.
func (m *Model) readDirOnly(ctx context.Context, tenant string) (directory, bool, error) {
	d, _, found, err := m.readDir(ctx, tenant)
	return d, found, err
}
