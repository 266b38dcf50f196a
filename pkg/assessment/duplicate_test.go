package assessment

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDuplicateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		field string
		dup   bool
	}{
		{name: "none", doc: `{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`},
		{name: "top level", doc: `{"name":"x","name":"y"}`, field: "name", dup: true},
		{name: "nested object", doc: `{"business":{"industry":"a","team":{},"industry":"b"}}`, field: "business.industry", dup: true},
		{name: "inside an array", doc: `{"workloads":[{"name":"a"},{"kind":"x","kind":"y"}]}`, field: "workloads[1].kind", dup: true},
		{name: "after nested values", doc: `{"a":{"x":[1,{"y":2}]},"b":[],"a":3}`, field: "a", dup: true},
		{name: "same key in sibling objects", doc: `[{"k":1},{"k":2}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			field, dup := duplicateKey([]byte(tt.doc))
			require.Equal(t, tt.dup, dup)
			require.Equal(t, tt.field, field)
		})
	}
}

func TestParseRequestRejectsDuplicateKeys(t *testing.T) {
	t.Parallel()
	_, err := ParseRequest([]byte(`{"name":"x","name":"y","business":{},"workloads":[]}`))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "name", ve.Errors[0].Field)
	require.Contains(t, ve.Errors[0].Reason, "more than once")
}

func TestParseRequestRejectsDuplicateYAMLKeys(t *testing.T) {
	t.Parallel()
	_, err := ParseRequest([]byte("name: x\nname: y\nbusiness: {}\nworkloads: []\n"))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Contains(t, ve.Error(), "name")
}
