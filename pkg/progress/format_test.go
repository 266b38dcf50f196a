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
