package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/report"
)

// TestReportSchemaNamesEveryMemberOfTheStoredReport keeps the OpenAPI
// document's Report (and so the generated client's api.Report) in step with
// the report the synthesizer stores: the same members at every depth, of
// the same JSON kind, plus the narratives the reader attaches. A member
// added to report.Document without the document fails here.
func TestReportSchemaNamesEveryMemberOfTheStoredReport(t *testing.T) {
	t.Parallel()
	stored := jsonShape(reflect.TypeFor[report.Document](), "")
	// The reader adds one of these to the stored report (app.Reports).
	for k, v := range jsonShape(reflect.TypeFor[struct {
		Narratives    []report.Narrative `json:"narratives"`
		NarrativeNote string             `json:"narrative_note"`
	}](), "") {
		stored[k] = v
	}
	require.Equal(t, shapeLines(stored), shapeLines(jsonShape(reflect.TypeFor[api.Report](), "")))
}

// TestStoredReportsDecodeIntoTheGeneratedReport decodes every example's
// stored report strictly into api.Report and encodes it again: the same
// JSON value comes back, so a client reading the typed report loses nothing.
func TestStoredReportsDecodeIntoTheGeneratedReport(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "synth", "testdata", "golden", "*.report.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			// As served: the reader attaches narratives or the note.
			served := strings.TrimSuffix(strings.TrimSpace(string(b)), "}") +
				`,"narratives":[{"audience":"cto","provider":"fake","model":"m","overall":{"text":"t","generated":true},` +
				`"families":[{"family":"cloud","text":"s","generated":false,"note":"n"}]}]}`
			rep := strictInto[api.Report](t, f, []byte(served))
			again, err := json.Marshal(rep)
			require.NoError(t, err)
			require.JSONEq(t, served, string(again))
		})
	}
}

// jsonShape lists the JSON members a type encodes, at every depth, as
// path -> kind. Slices and pointers are looked through.
func jsonShape(t reflect.Type, prefix string) map[string]string {
	out := map[string]string{}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return out
	}
	for f := range t.Fields() {
		if f.Anonymous {
			for k, v := range jsonShape(f.Type, prefix) {
				out[k] = v
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + "." + name
		out[path] = jsonKind(f.Type)
		for k, v := range jsonShape(f.Type, path) {
			out[k] = v
		}
	}
	return out
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "time"
	case t.Kind() == reflect.Slice:
		return "array of " + jsonKind(t.Elem())
	case t.Kind() == reflect.Struct:
		return "object"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

func shapeLines(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+" "+v)
	}
	sort.Strings(out)
	return out
}
