package progress

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A stored result reads back with its data byte for byte, newlines
// included, and a result stored as one JSON document (the data in base64,
// as written before) still reads.
func TestStoredResultsReadInEitherForm(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 10, 0, 0, 123e6, time.UTC)
	tests := []struct {
		name string
		in   Result
		old  bool
	}{
		{name: "protojson data", in: Result{TenantID: "acme", AssessmentID: "a1", Family: "cloud", Data: []byte(`{"family":"cloud","summary":"x"}`), ReceivedAt: at}},
		{name: "data with newlines", in: Result{TenantID: "acme", AssessmentID: "a1", Family: "cloud", Data: []byte("{\n \"a\": \"b\\nc\"\n}\n"), ReceivedAt: at}},
		{name: "a tenant with a newline", in: Result{TenantID: "ac\nme", AssessmentID: "a1", Family: "mlops", Data: []byte(`{}`), ReceivedAt: at}},
		{name: "stored as one JSON document", in: Result{TenantID: "acme", AssessmentID: "a1", Family: "strategy", Data: []byte(`{"v":1}`), ReceivedAt: at}, old: true},
		{name: "a reference to the stream", in: Result{TenantID: "acme", AssessmentID: "a1", Family: "cloud", Seq: 4021, ReceivedAt: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b []byte
			var err error
			if tt.old {
				b, err = json.Marshal(tt.in)
			} else {
				b, err = resultValue(tt.in)
			}
			require.NoError(t, err)
			var got Result
			require.NoError(t, readResult(b, &got))
			require.Equal(t, string(tt.in.Data), string(got.Data))
			got.Data = tt.in.Data
			require.Equal(t, tt.in, got)
		})
	}
}

// A reference holds no copy of the result, and a reader of the forms before
// references fails on one instead of reading a result without data.
func TestAStoredReferenceHoldsNoDataAndOlderReadersRefuseIt(t *testing.T) {
	t.Parallel()
	r := Result{TenantID: "acme", AssessmentID: "a1", Family: "cloud", Seq: 7, Data: []byte(`{"big":"ignored"}`), ReceivedAt: time.Now().UTC()}
	b, err := resultValue(r)
	require.NoError(t, err)
	require.NotContains(t, string(b), "ignored")
	require.Less(t, len(b), 200)

	var got Result
	require.NoError(t, readResult(b, &got))
	require.Equal(t, uint64(7), got.Seq)
	require.Nil(t, got.Data)

	// How readResult read values before references: a header up to the
	// first newline, otherwise one JSON document.
	var before Result
	require.Error(t, json.Unmarshal(b, &before), "a reader from before must not take a reference for an empty result")

	require.Error(t, readResult([]byte(`R{"tenant_id":"acme"}`), &got), "a reference without a sequence is refused")
}
