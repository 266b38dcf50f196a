package compose_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/platform/compose"
)

// planCost returns the plan's on-demand monthly cost change from a diff.
func planCost(d api.ReportDiff, name string) (api.MetricChange, bool) {
	for _, m := range d.Cost {
		if m.Name == name && m.Workload == nil {
			return m, true
		}
	}
	return api.MetricChange{}, false
}

// problemOf asserts err is a problem with status and returns it.
func problemOf(t *testing.T, err error, status int) *client.Problem {
	t.Helper()
	var p *client.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, status, p.Status, "problem: %v", p)
	return p
}

func TestScenariosAndVersionsRunThroughThePipeline(t *testing.T) {
	sys := startSystem(t, compose.AllRoles(), time.Minute)
	ctx := context.Background()
	acc, err := sys.client.Submit(ctx, example(t, "chatbot-70b-hipaa-us.yaml"), "application/yaml")
	require.NoError(t, err)
	_, completed := follow(t, sys.client, acc.ID)
	require.Equal(t, "completed", completed["status"])

	// What if traffic doubles: the scenario runs as its own assessment.
	name, twice := "Traffic x2", 2.0
	sc, err := sys.client.CreateScenario(ctx, acc.ID, api.ScenarioRequest{Name: &name, Overrides: api.ScenarioOverrides{TrafficMultiplier: &twice}})
	require.NoError(t, err)
	require.Equal(t, acc.ID, sc.BaseID)
	require.NotEqual(t, acc.ID, sc.ID)
	_, completed = follow(t, sys.client, sc.ID)
	require.Equal(t, "completed", completed["status"])

	got, err := sys.client.Scenario(ctx, acc.ID, sc.ID)
	require.NoError(t, err)
	require.Equal(t, api.AssessmentStatusCompleted, got.Status)
	require.Equal(t, api.ScenarioOverrides{TrafficMultiplier: &twice}, got.Overrides)
	require.NotNil(t, got.Diff, "both reports exist, so the diff is shown")
	require.Equal(t, acc.ID, got.Diff.BaseID)
	require.Equal(t, sc.ID, got.Diff.OtherID)
	for _, name := range []string{analysis.MetricMonthlyCostLow, analysis.MetricMonthlyCostHigh} {
		m, ok := planCost(*got.Diff, name)
		require.True(t, ok, "%s changed: %+v", name, got.Diff.Cost)
		require.NotNil(t, m.Base)
		require.NotNil(t, m.Other)
		require.Greater(t, *m.Other, *m.Base, "twice the traffic costs more (%s)", name)
	}
	list, err := sys.client.Scenarios(ctx, acc.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, sc.ID, list[0].ID)

	// A re-run on the same catalogue is version 2, and costs the same.
	v, err := sys.client.CreateVersion(ctx, acc.ID)
	require.NoError(t, err)
	require.NotNil(t, v.Version)
	require.Equal(t, 2, *v.Version)
	_, completed = follow(t, sys.client, v.ID)
	require.Equal(t, "completed", completed["status"])
	versions, err := sys.client.Versions(ctx, acc.ID)
	require.NoError(t, err)
	require.Len(t, versions, 2)
	require.Equal(t, acc.ID, versions[0].ID)
	require.Equal(t, 1, versions[0].Version)
	require.Equal(t, v.ID, versions[1].ID)
	d, err := sys.client.DiffVersions(ctx, acc.ID, 1, 2)
	require.NoError(t, err)
	require.Equal(t, v.ID, d.OtherID)
	require.Empty(t, d.Cost, "same request, same catalogue: no cost change")

	_, err = sys.client.DiffVersions(ctx, acc.ID, 1, 7)
	p := problemOf(t, err, http.StatusNotFound)
	require.Contains(t, p.DetailText(), "version 7")

	// Malformed input names the field.
	raw := func(tenant, method, path, body string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, method, sys.base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+sys.sign(tenant))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var prob struct {
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&prob)
		field := ""
		if len(prob.Errors) > 0 {
			field = prob.Errors[0].Field
		}
		return resp.StatusCode, field
	}
	base := "/v1/assessments/" + acc.ID
	bad := []struct {
		name, method, path, body, field string
	}{
		{name: "zero multiplier", method: http.MethodPost, path: base + "/scenarios", body: `{"overrides":{"traffic_multiplier":0}}`, field: "overrides.traffic_multiplier"},
		{name: "unknown override", method: http.MethodPost, path: base + "/scenarios", body: `{"overrides":{"gpu":"h100"}}`, field: "overrides.gpu"},
		{name: "unknown scenario field", method: http.MethodPost, path: base + "/scenarios", body: `{"overrides":{"precision":"fp8"},"colour":"red"}`, field: "colour"},
		{name: "no overrides", method: http.MethodPost, path: base + "/scenarios", body: `{"name":"x"}`, field: "overrides"},
		{name: "from malformed", method: http.MethodGet, path: base + "/versions/diff?from=one&to=2", field: "from"},
		{name: "to missing", method: http.MethodGet, path: base + "/versions/diff?from=1", field: "to"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			status, field := raw("acme", tc.method, tc.path, tc.body)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, tc.field, field)
		})
	}

	// Another tenant sees none of it.
	other := []struct{ method, path, body string }{
		{http.MethodPost, base + "/versions", ""},
		{http.MethodGet, base + "/versions", ""},
		{http.MethodGet, base + "/versions/diff?from=1&to=2", ""},
		{http.MethodPost, base + "/scenarios", `{"overrides":{"traffic_multiplier":2}}`},
		{http.MethodGet, base + "/scenarios", ""},
		{http.MethodGet, base + "/scenarios/" + sc.ID, ""},
		{http.MethodGet, "/v1/assessments/" + sc.ID, ""},
	}
	for _, r := range other {
		status, _ := raw("globex", r.method, r.path, r.body)
		require.Equal(t, http.StatusNotFound, status, "%s %s", r.method, r.path)
	}
	// The scenario is not a version, nor listed under another base.
	_, err = sys.client.Scenario(ctx, acc.ID, v.ID)
	problemOf(t, err, http.StatusNotFound)
}
