package readmodel

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkChunkCodec decodes and encodes a full chunk of a tenant's list,
// as every new assessment's read-model write does to its tenant's newest
// chunk.
func BenchmarkChunkCodec(b *testing.B) {
	c := chunk{From: pos{ms: 1}}
	for i := range chunkMax {
		c.Items = append(c.Items, pos{ms: 1_780_000_000_000 + int64(i), id: fmt.Sprintf("01a24e01-c55c-715a-b2ea-%012d", i)})
	}
	raw, err := json.Marshal(c)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		var got chunk
		if err := json.Unmarshal(raw, &got); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(got); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPositionsReadWhatEitherCodecWrote: a chunk's positions read back as
// written, whatever their ids hold, and a list encoding/json wrote with the
// earlier per-position codec ([ms, id] from []any) reads the same; anything
// that is not a list of [ms, id] pairs is refused.
func TestPositionsReadWhatEitherCodecWrote(t *testing.T) {
	t.Parallel()
	ps := positions{
		{ms: 1_780_000_000_123, id: "01a24e01-c55c-715a-b2ea-ce5ca0104726"},
		{ms: -5, id: `quote " backslash \ <tag> & tab	 é 😀`},
		{ms: math.MinInt64, id: ""},
		{ms: math.MaxInt64, id: "\x00\x1f\x7f"},
	}
	b, err := json.Marshal(chunk{From: ps[0], To: &ps[1], Items: ps})
	require.NoError(t, err)
	var got chunk
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, ps, got.Items)
	require.Equal(t, ps[0], got.From)
	require.Equal(t, ps[1], *got.To)

	var old []json.RawMessage
	for _, p := range ps {
		e, err := json.Marshal([]any{p.ms, p.id})
		require.NoError(t, err)
		old = append(old, e)
	}
	oldList, err := json.Marshal(old)
	require.NoError(t, err)
	var fromOld positions
	require.NoError(t, json.Unmarshal(oldList, &fromOld))
	require.Equal(t, ps, fromOld)

	var empty chunk
	require.NoError(t, json.Unmarshal([]byte(`{"from":[1,"a"],"items":[]}`), &empty))
	require.Empty(t, empty.Items)
	require.NotNil(t, empty.Items)

	for _, bad := range []string{
		`{"items":{"a":1}}`, `{"items":[[1]]}`, `{"items":[[1,"a","b"]]}`, `{"items":[["1","a"]]}`,
		`{"items":[[1.5,"a"]]}`, `{"items":[[1e3,"a"]]}`, `{"items":[[1,2]]}`, `{"items":[1]}`,
		`{"items":[[99999999999999999999,"a"]]}`, `{"from":[1],"items":[]}`,
	} {
		var c chunk
		require.Error(t, json.Unmarshal([]byte(bad), &c), bad)
	}
}
