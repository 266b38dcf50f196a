package client_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/client"
)

func TestStrictRefusesFieldsTheDocumentDoesNotName(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":"a1","status":"queued","status_url":"/s","events_url":"/e","report_url":"/r","colour":"red"}`))
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		opts    []client.Option
		wantErr bool
	}{
		{name: "lenient by default: a newer gateway's field is ignored"},
		{name: "strict", opts: []client.Option{client.Strict()}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(srv.URL, "token", nil, tc.opts...)
			require.NoError(t, err)
			acc, err := c.Submit(t.Context(), []byte(`{}`), "application/json")
			if tc.wantErr {
				require.ErrorContains(t, err, `unknown field "colour"`)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "a1", acc.ID)
		})
	}
}

func TestProblemNamesTheFields(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"type":"https://infra-mind.dev/problems/invalid-request","title":"Invalid request","status":400,` +
			`"detail":"The request has 1 invalid field.","errors":[{"field":"overrides.traffic_multiplier","reason":"must be above 0"}]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, "token", nil)
	require.NoError(t, err)
	_, err = c.Submit(t.Context(), []byte(`{}`), "application/json")
	var p *client.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, 400, p.Status)
	require.Equal(t, "The request has 1 invalid field.", p.DetailText())
	require.Equal(t, "400 Invalid request: The request has 1 invalid field.\n  overrides.traffic_multiplier: must be above 0", err.Error())
}
