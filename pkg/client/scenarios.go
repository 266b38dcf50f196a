package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/infra-mind/infra-mind/pkg/api"
)

func assessmentPath(id string) string { return "/v1/assessments/" + url.PathEscape(id) }

// CreateVersion re-runs assessment id as its next version.
func (c *Client) CreateVersion(ctx context.Context, id string) (api.ChildCreated, error) {
	var out api.ChildCreated
	err := c.do(ctx, http.MethodPost, assessmentPath(id)+"/versions", nil, "", http.StatusAccepted, &out)
	return out, err
}

// Versions lists the versions of assessment id, version 1 (the base) first.
func (c *Client) Versions(ctx context.Context, id string) ([]api.Version, error) {
	var out api.VersionList
	err := c.do(ctx, http.MethodGet, assessmentPath(id)+"/versions", nil, "", http.StatusOK, &out)
	return out.Items, err
}

// DiffVersions compares version from with version to of assessment id.
func (c *Client) DiffVersions(ctx context.Context, id string, from, to int) (api.ReportDiff, error) {
	var out api.ReportDiff
	q := url.Values{"from": {fmt.Sprint(from)}, "to": {fmt.Sprint(to)}}
	err := c.do(ctx, http.MethodGet, assessmentPath(id)+"/versions/diff?"+q.Encode(), nil, "", http.StatusOK, &out)
	return out, err
}

// CreateScenario runs a what-if scenario of assessment id, for example
// api.ScenarioRequest{Overrides: api.ScenarioOverrides{TrafficMultiplier: &two}}.
func (c *Client) CreateScenario(ctx context.Context, id string, in api.ScenarioRequest) (api.ChildCreated, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return api.ChildCreated{}, fmt.Errorf("encode scenario: %w", err)
	}
	var out api.ChildCreated
	err = c.do(ctx, http.MethodPost, assessmentPath(id)+"/scenarios", body, "application/json", http.StatusAccepted, &out)
	return out, err
}

// Scenarios lists the scenarios of assessment id, oldest first.
func (c *Client) Scenarios(ctx context.Context, id string) ([]api.Scenario, error) {
	var out api.ScenarioList
	err := c.do(ctx, http.MethodGet, assessmentPath(id)+"/scenarios", nil, "", http.StatusOK, &out)
	return out.Items, err
}

// Scenario returns scenario sid of assessment id; its Diff (the base
// compared with the scenario) is set once both reports exist.
func (c *Client) Scenario(ctx context.Context, id, sid string) (api.Scenario, error) {
	var out api.Scenario
	err := c.do(ctx, http.MethodGet, assessmentPath(id)+"/scenarios/"+url.PathEscape(sid), nil, "", http.StatusOK, &out)
	return out, err
}
