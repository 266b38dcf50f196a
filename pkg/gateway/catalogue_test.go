package gateway

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

func TestCatalogueVersionDiff(t *testing.T) {
	t.Parallel()
	e := newFakeEnv(t)
	get := func(path string) *http.Response {
		return e.do(t, http.MethodGet, path, "acme", "", nil, nil)
	}

	resp := get("/v1/catalogue/versions/2026-12-06.2/diff")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	d := decodeBody[catalog.PriceDiff](t, resp)
	require.Equal(t, "2026-12-06.1", d.From, "without from, the version before")
	require.Equal(t, "2026-12-06.2", d.To)
	var a3 *catalog.PriceMove
	for i, m := range d.Moved {
		if m.Provider == "gcp" && m.Name == "a3-highgpu-8g" && m.Region == "us-central1" {
			a3 = &d.Moved[i]
		}
	}
	require.NotNil(t, a3)
	require.InDelta(t, 88.49, a3.OnDemandFrom, 1e-9)
	require.NotEmpty(t, d.Added)

	resp = get("/v1/catalogue/versions/2026-12-06.2/diff?from=2026-12-06.2")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	same := decodeBody[catalog.PriceDiff](t, resp)
	require.Empty(t, same.Moved)
	require.Positive(t, same.Unchanged)

	tests := []struct {
		name, path string
		status     int
		detail     string
	}{
		{"malformed version", "/v1/catalogue/versions/latest/diff", http.StatusBadRequest, `version: "latest" is not a catalogue version`},
		{"malformed from", "/v1/catalogue/versions/2026-12-06.2/diff?from=x", http.StatusBadRequest, `from: "x" is not a catalogue version`},
		{"unknown version", "/v1/catalogue/versions/2031-01-01.1/diff", http.StatusNotFound, "catalogue version 2031-01-01.1 is not held (held: 2026-12-06.1, 2026-12-06.2, 2026-12-06.3, 2026-12-06.4, 2026-12-06.5, 2026-12-06.6, 2026-12-06.7, 2026-12-06.8)"},
		{"nothing before the oldest", "/v1/catalogue/versions/2026-12-06.1/diff", http.StatusBadRequest, "from: catalogue version 2026-12-06.1 is the oldest held"},
	}
	for _, tc := range tests {
		resp := get(tc.path)
		require.Equal(t, tc.status, resp.StatusCode, tc.name)
		p := decodeBody[Problem](t, resp)
		require.Contains(t, p.Detail, tc.detail, tc.name)
	}

}
