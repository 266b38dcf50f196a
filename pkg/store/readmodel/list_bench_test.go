package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/devstack"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// BenchmarkReadModelListing lists one tenant's first page of 20, a page of
// 20 from a cursor half way down, and an assessment's 20 versions, on the
// embedded broker with 200, 2,000 and 20,000 of the tenant's assessments
// in the read model (two a second, as a busy tenant creates them). "index"
// is the read model's list (ADR 0048); "hours" is the layout it replaced
// (ADR 0030: one key per assessment, listed an hour at a time), loaded into
// its own broker and read the way it was read, as the baseline of the
// same run.
func BenchmarkReadModelListing(b *testing.B) {
	for _, stored := range []int{200, 2000, 20000} {
		for _, layout := range []string{"hours", "index"} {
			b.Run(fmt.Sprintf("stored=%d/%s", stored, layout), func(b *testing.B) {
				benchListing(b, stored, layout)
			})
		}
	}
}

func benchListing(b *testing.B, stored int, layout string) {
	const versions, tenant = 20, "acme"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: b.TempDir(), SkipMongo: true, SkipRedis: true})
	require.NoError(b, err)
	b.Cleanup(stack.Close)
	bs, err := bus.Connect(ctx, bus.Config{URL: stack.NATSURL, Name: "list-bench", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = bs.Close() })
	m, err := Open(ctx, bs.JS)
	require.NoError(b, err)
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(stored) * time.Second / 2)
	all := make([]store.Assessment, stored)
	for i := range all {
		a := store.Assessment{ID: fmt.Sprintf("a%06d", i), TenantID: tenant, Status: "completed", CreatedAt: t0.Add(time.Duration(i) * time.Second / 2)}
		if i > 0 && i <= versions {
			a.ParentID, a.Kind, a.Version = "a000000", store.KindVersion, i+1
		}
		all[i] = a
	}
	var list func(before *store.ListPosition) ([]store.ListPosition, error)
	var kids func() ([]store.ListPosition, error)
	if layout == "hours" {
		require.NoError(b, loadHours(ctx, m, all))
		list = func(before *store.ListPosition) ([]store.ListPosition, error) {
			return hoursList(ctx, m, tenant, before, 21)
		}
		kids = func() ([]store.ListPosition, error) {
			return hoursChildren(ctx, m, tenant, "a000000", store.KindVersion)
		}
	} else {
		l := m.NewLoader()
		for _, a := range all {
			require.NoError(b, l.Assessment(ctx, a))
		}
		require.NoError(b, l.Flush(ctx))
		list = func(before *store.ListPosition) ([]store.ListPosition, error) {
			return m.ListAssessments(ctx, tenant, before, 21)
		}
		kids = func() ([]store.ListPosition, error) { return m.Children(ctx, tenant, "a000000", store.KindVersion) }
	}
	mid := &store.ListPosition{At: all[stored/2].CreatedAt, ID: all[stored/2].ID}

	b.Run("list first page of 20", func(b *testing.B) {
		for b.Loop() {
			got, err := list(nil)
			require.NoError(b, err)
			require.Len(b, got, 21)
			require.Equal(b, all[stored-1].ID, got[0].ID)
		}
	})
	b.Run("list a page of 20 half way down", func(b *testing.B) {
		for b.Loop() {
			got, err := list(mid)
			require.NoError(b, err)
			require.Len(b, got, 21)
			require.Equal(b, all[stored/2-1].ID, got[0].ID)
		}
	})
	b.Run("versions of an assessment", func(b *testing.B) {
		for b.Loop() {
			got, err := kids()
			require.NoError(b, err)
			require.Len(b, got, versions)
		}
	})
}

// The layout before ADR 0048, written and read as it was, for the
// baseline and for the copy of it into the index.

func legacyHourOf(t time.Time) int64 { return t.UnixMilli() / int64(time.Hour/time.Millisecond) }

func legacyListKey(tenant string, at time.Time, id string) string {
	return fmt.Sprintf("l.%s.%d.%d.%s", tenantHash(tenant), legacyHourOf(at), at.UnixMilli(), idToken(id))
}

func legacyChildKey(a store.Assessment) string {
	return fmt.Sprintf("k.%s.%s.%s.%d.%s", tenantHash(a.TenantID), idToken(a.ParentID), a.Kind, a.CreatedAt.UnixMilli(), idToken(a.ID))
}

// loadHours writes as in the layout before ADR 0048: the hours key, one
// list key per assessment and one child key per child, then the copies.
func loadHours(ctx context.Context, m *Model, all []store.Assessment) error {
	hours := map[string][]int64{}
	for _, a := range all {
		h := legacyHourOf(a.CreatedAt)
		if !slices.Contains(hours[a.TenantID], h) {
			hours[a.TenantID] = append(hours[a.TenantID], h)
		}
		if _, err := m.js.PublishAsync("$KV."+bus.BucketReadModel+"."+legacyListKey(a.TenantID, a.CreatedAt, a.ID), nil); err != nil {
			return err
		}
		if a.ParentID != "" {
			if _, err := m.js.PublishAsync("$KV."+bus.BucketReadModel+"."+legacyChildKey(a), nil); err != nil {
				return err
			}
		}
	}
	for tenant, hs := range hours {
		slices.SortFunc(hs, func(x, y int64) int { return int(y - x) })
		b := []byte("[")
		for i, h := range hs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, h, 10)
		}
		b = append(b, ']')
		if _, err := m.kv.Put(ctx, legacyHoursKey(tenant), b); err != nil {
			return err
		}
	}
	select {
	case <-m.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	l := &Loader{m: m}
	for _, a := range all {
		a.Key = store.AssessmentKey(a.TenantID, a.ID)
		if err := l.publishAssessment(a); err != nil {
			return err
		}
	}
	select {
	case <-m.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hoursList is the list as ADR 0030 read it: the tenant's hours, then the
// keys of each hour from the cursor's down, sorted.
func hoursList(ctx context.Context, m *Model, tenant string, before *store.ListPosition, limit int) ([]store.ListPosition, error) {
	e, err := m.kv.Get(ctx, legacyHoursKey(tenant))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hs []int64
	if err := json.Unmarshal(e.Value(), &hs); err != nil {
		return nil, err
	}
	var bp *pos
	if before != nil {
		p := posOf(before.At, before.ID)
		bp = &p
	}
	var out []store.ListPosition
	for _, h := range hs {
		if before != nil && h > legacyHourOf(before.At) {
			continue
		}
		keys, err := m.keys(ctx, fmt.Sprintf("l.%s.%d.>", tenantHash(tenant), h))
		if err != nil {
			return nil, err
		}
		var page []pos
		for _, k := range keys {
			p, ok := legacyPosition(k)
			if !ok || (bp != nil && cmpPos(p, *bp) >= 0) {
				continue
			}
			page = append(page, p)
		}
		slices.SortFunc(page, newestFirst)
		for _, p := range page {
			out = append(out, p.listPosition())
		}
		if len(out) >= limit {
			return out[:limit], nil
		}
	}
	return out, nil
}

// hoursChildren is the children as ADR 0030 read them: a key listing.
func hoursChildren(ctx context.Context, m *Model, tenant, parentID, kind string) ([]store.ListPosition, error) {
	keys, err := m.keys(ctx, fmt.Sprintf("k.%s.%s.%s.>", tenantHash(tenant), idToken(parentID), kind))
	if err != nil {
		return nil, err
	}
	ps := make([]pos, 0, len(keys))
	for _, k := range keys {
		if p, ok := legacyPosition(k); ok {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, cmpPos)
	out := make([]store.ListPosition, len(ps))
	for i, p := range ps {
		out[i] = p.listPosition()
	}
	return out, nil
}
