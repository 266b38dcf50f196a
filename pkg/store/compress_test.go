package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/store"
)

// TestStoredReportsRoundTripWhileCompressorsAreReused writes many distinct
// reports at once, as closes running side by side do: each stored form
// reads back as its own body, whichever reused compressor wrote it.
func TestStoredReportsRoundTripWhileCompressorsAreReused(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				body := fmt.Sprintf(`{"assessment":"a-%d-%d","text":%q}`, g, i, strings.Repeat(fmt.Sprint(g*100+i), 200+i))
				b, err := store.MarshalReport(store.Report{ID: "r", TenantID: "t", AssessmentID: "a", Status: "done", Body: body})
				if !assert(t, err == nil, "marshal: %v", err) {
					return
				}
				rep, err := store.UnmarshalReport(b)
				if !assert(t, err == nil, "unmarshal: %v", err) || !assert(t, rep.Body == body, "report %d-%d read back as another body", g, i) {
					return
				}
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
}

// assert reports a failure from a goroutine other than the test's.
func assert(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}
