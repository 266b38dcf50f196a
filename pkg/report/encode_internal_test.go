package report

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStoredDocumentHasEveryFieldInNameOrder holds storedDocument to
// Document: the same JSON fields with the same options, in name order, so a
// field added to the model is stored, and stored where readers have always
// found it.
func TestStoredDocumentHasEveryFieldInNameOrder(t *testing.T) {
	var want []string
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for f := range ty.Fields() {
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			want = append(want, f.Tag.Get("json")+" "+f.Type.String())
		}
	}
	walk(reflect.TypeFor[Document]())
	name := func(s string) string { return s[:strings.IndexAny(s, ", ")] }
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(name(a), name(b)) })
	var got []string
	for f := range reflect.TypeFor[storedDocument]().Fields() {
		got = append(got, f.Tag.Get("json")+" "+f.Type.String())
	}
	require.Equal(t, want, got)
}
