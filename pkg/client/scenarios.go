package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/infra-mind/infra-mind/pkg/report"
)

// ChildLinks are the links of a version or a scenario.
type ChildLinks struct {
	Self   string `json:"self"`
	Events string `json:"events"`
	Report string `json:"report"`
	Base   string `json:"base"`
}

// ChildAccepted is the gateway's answer to a new version or scenario.
type ChildAccepted struct {
	Accepted
	BaseID  string     `json:"base_id"`
	Version int        `json:"version"` // 0 for a scenario
	Links   ChildLinks `json:"links"`
}

// Version is one version of an assessment (1 is the base).
type Version struct {
	Version     int        `json:"version"`
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt time.Time  `json:"completed_at"`
	Links       ChildLinks `json:"links"`
}

// Scenario is a what-if scenario of an assessment; Diff (base compared with
// the scenario) is set once both reports exist.
type Scenario struct {
	ID          string             `json:"id"`
	BaseID      string             `json:"base_id"`
	Name        string             `json:"name"`
	Status      string             `json:"status"`
	Overrides   json.RawMessage    `json:"overrides"`
	CreatedAt   time.Time          `json:"created_at"`
	CompletedAt time.Time          `json:"completed_at"`
	Links       ChildLinks         `json:"links"`
	Diff        *report.ReportDiff `json:"diff"`
}

func assessmentPath(id string) string { return "/v1/assessments/" + url.PathEscape(id) }

// CreateVersion re-runs assessment id as its next version.
func (c *Client) CreateVersion(ctx context.Context, id string) (ChildAccepted, error) {
	var out ChildAccepted
	err := c.do(ctx, http.MethodPost, assessmentPath(id)+"/versions", nil, "", http.StatusAccepted, &out)
	return out, err
}

// Versions lists the versions of assessment id, version 1 (the base) first.
func (c *Client) Versions(ctx context.Context, id string) ([]Version, error) {
	var out struct {
		Items []Version `json:"items"`
	}
	err := c.do(ctx, http.MethodGet, assessmentPath(id)+"/versions", nil, "", http.StatusOK, &out)
	return out.Items, err
}

// DiffVersions compares version from with version to of assessment id.
func (c *Client) DiffVersions(ctx context.Context, id string, from, to int) (report.ReportDiff, error) {
	var out report.ReportDiff
	q := url.Values{"from": {fmt.Sprint(from)}, "to": {fmt.Sprint(to)}}
	err := c.do(ctx, http.MethodGet, assessmentPath(id)+"/versions/diff?"+q.Encode(), nil, "", http.StatusOK, &out)
	return out, err
}

// CreateScenario runs a what-if scenario of assessment id; overrides is the
// JSON object of overrides, for example {"traffic_multiplier": 2}.
func (c *Client) CreateScenario(ctx context.Context, id, name string, overrides json.RawMessage) (ChildAccepted, error) {
	body, err := json.Marshal(struct {
		Name      string          `json:"name,omitempty"`
		Overrides json.RawMessage `json:"overrides"`
	}{name, overrides})
	if err != nil {
		return ChildAccepted{}, fmt.Errorf("encode scenario: %w", err)
	}
	var out ChildAccepted
	err = c.do(ctx, http.MethodPost, assessmentPath(id)+"/scenarios", body, "application/json", http.StatusAccepted, &out)
	return out, err
}

// Scenarios lists the scenarios of assessment id, oldest first.
func (c *Client) Scenarios(ctx context.Context, id string) ([]Scenario, error) {
	var out struct {
		Items []Scenario `json:"items"`
	}
	err := c.do(ctx, http.MethodGet, assessmentPath(id)+"/scenarios", nil, "", http.StatusOK, &out)
	return out.Items, err
}

// Scenario returns scenario sid of assessment id, with its diff once ready.
func (c *Client) Scenario(ctx context.Context, id, sid string) (Scenario, error) {
	var out Scenario
	err := c.do(ctx, http.MethodGet, assessmentPath(id)+"/scenarios/"+url.PathEscape(sid), nil, "", http.StatusOK, &out)
	return out, err
}
