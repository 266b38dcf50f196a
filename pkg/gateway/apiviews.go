package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/audit"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// The answers below are the pkg/api types generated from the OpenAPI
// document (ADR 0011, ADR 0028), built from what the use cases return.

func assessmentURL(id string) string { return "/v1/assessments/" + id }

func linksFor(id string) api.Links {
	return api.Links{Self: assessmentURL(id), Events: assessmentURL(id) + "/events", Report: assessmentURL(id) + "/report"}
}

func childLinksFor(id, base string) api.ChildLinks {
	l := linksFor(id)
	return api.ChildLinks{Self: l.Self, Events: l.Events, Report: l.Report, Base: assessmentURL(base)}
}

// optional is a pointer to v, or nil for v's zero value (a field the
// document leaves out when unset).
func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// val is what p points to, or the zero value for nil (a field the
// request left out).
func val[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optionalSlice[T any](v []T) *[]T {
	if len(v) == 0 {
		return nil
	}
	return &v
}

// createdOf is the 202 answer to a submitted assessment.
func createdOf(a store.Assessment) api.AssessmentCreated {
	u := assessmentURL(a.ID)
	return api.AssessmentCreated{ID: a.ID, Status: api.AssessmentStatus(a.Status), StatusURL: u, EventsURL: u + "/events", ReportURL: u + "/report"}
}

// assessmentOf is an assessment as the API shows it; withRequest adds the
// request as submitted (lists leave it out).
func assessmentOf(a store.Assessment, withRequest bool) (api.Assessment, error) {
	v := api.Assessment{
		ID: a.ID, Name: a.Name, Status: api.AssessmentStatus(a.Status), Families: make(map[string]api.FamilyState, len(a.Families)),
		MissingFamilies: optionalSlice(a.MissingFamilies), Reason: optional(a.Reason), CorrelationID: optional(a.CorrelationID),
		CreatedAt: a.CreatedAt, UpdatedAt: optionalTime(a.UpdatedAt), Deadline: a.Deadline, CompletedAt: optionalTime(a.CompletedAt),
		Links: linksFor(a.ID),
	}
	for name, f := range a.Families {
		// A pending family has always shown the zero time as completed_at;
		// kept, so the answer stays as it was.
		v.Families[name] = api.FamilyState{Status: api.FamilyStateStatus(f.Status), Summary: optional(f.Summary), CompletedAt: &f.CompletedAt}
	}
	if withRequest && a.Request != "" {
		req, err := requestOf(a.Request)
		if err != nil {
			return api.Assessment{}, fmt.Errorf("stored request of %s: %w", a.ID, err)
		}
		v.Request = req
	}
	return v, nil
}

// requestOf decodes a stored request (its protojson, app.Submit) into the
// API's type. protojson writes 64-bit integers as strings (its JSON
// mapping of int64); the API's are numbers, so those are read as numbers.
func requestOf(stored string) (*api.AssessmentRequest, error) {
	var req api.AssessmentRequest
	d := json.NewDecoder(bytes.NewReader(int64AsNumber([]byte(stored))))
	if err := d.Decode(&req); err != nil {
		return nil, err
	}
	return &req, nil
}

// int64AsNumber rewrites the request's 64-bit integer fields (the
// workloads' vector_count) from protojson's quoted form to JSON numbers.
func int64AsNumber(stored []byte) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(stored, &doc) != nil {
		return stored
	}
	var workloads []map[string]json.RawMessage
	if json.Unmarshal(doc["workloads"], &workloads) != nil {
		return stored
	}
	changed := false
	for _, w := range workloads {
		raw, ok := w["vector_count"]
		var s string
		if ok && json.Unmarshal(raw, &s) == nil && json.Valid([]byte(s)) {
			w["vector_count"] = json.RawMessage(s)
			changed = true
		}
	}
	if !changed {
		return stored
	}
	b, err := json.Marshal(workloads)
	if err != nil {
		return stored
	}
	doc["workloads"] = b
	out, err := json.Marshal(doc)
	if err != nil {
		return stored
	}
	return out
}

// childCreatedOf is the 202 answer to a new version or scenario.
func childCreatedOf(child store.Assessment) api.ChildCreated {
	c := createdOf(child)
	return api.ChildCreated{ID: c.ID, Status: c.Status, StatusURL: c.StatusURL, EventsURL: c.EventsURL, ReportURL: c.ReportURL,
		BaseID: child.ParentID, Version: optional(child.Version), Links: childLinksFor(child.ID, child.ParentID)}
}

// versionOf is one version of an assessment; base is version 1's id.
func versionOf(a store.Assessment, version int, base string) api.Version {
	return api.Version{Version: version, ID: a.ID, Status: api.AssessmentStatus(a.Status), CreatedAt: a.CreatedAt,
		CompletedAt: optionalTime(a.CompletedAt), Links: childLinksFor(a.ID, base)}
}

// webhookOf is a registered webhook, without its secret.
func webhookOf(w store.Webhook) api.Webhook {
	v := api.Webhook{ID: w.ID, URL: w.URL, CreatedAt: w.CreatedAt, EventTypes: make([]api.WebhookEventTypes, 0, len(w.EventTypes))}
	for _, t := range w.EventTypes {
		v.EventTypes = append(v.EventTypes, api.WebhookEventTypes(t))
	}
	v.Links.Self = "/v1/webhooks/" + w.ID
	v.Links.Deliveries = v.Links.Self + "/deliveries"
	return v
}

// auditRecordOf is one audit log record.
func auditRecordOf(r audit.Record) api.AuditRecord {
	v := api.AuditRecord{ID: r.ID, Time: r.Time, TenantID: r.Tenant, Actor: r.Actor, Roles: optionalSlice(r.Roles),
		Action: r.Action, Outcome: api.AuditRecordOutcome(r.Outcome), Status: r.Status, RequestID: r.RequestID,
		SourceAddr: r.SourceAddr, PeerAddr: optional(r.PeerAddr), UserAgent: optional(r.UserAgent)}
	v.Resource.Type = r.Resource.Type
	v.Resource.ID = optional(r.Resource.ID)
	v.Resource.Parent = optional(r.Resource.Parent)
	return v
}

// mapSlice maps every element of in with f; a nil slice stays nil (null in
// JSON) and an empty one empty ([]), so the answer keeps what its source had.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}

// scenarioOf is a scenario as the API shows it, without its diff. The
// overrides are stored as the JSON of scenario.Overrides, whose fields are
// the document's; a stored value that cannot be read shows as none.
func scenarioOf(a store.Assessment) api.Scenario {
	v := api.Scenario{ID: a.ID, BaseID: a.ParentID, Name: a.Name, Status: api.AssessmentStatus(a.Status),
		CreatedAt: a.CreatedAt, CompletedAt: optionalTime(a.CompletedAt), Links: childLinksFor(a.ID, a.ParentID)}
	var o api.ScenarioOverrides
	if json.Unmarshal([]byte(a.Overrides), &o) == nil {
		v.Overrides = o
	}
	return v
}

// recommendationOf is one ranked recommendation.
func recommendationOf(r recommend.Recommendation) api.Recommendation {
	v := api.Recommendation{ID: r.ID, Category: api.RecommendationCategory(r.Category), Priority: api.RecommendationPriority(r.Priority),
		Family: r.Family, Workload: optional(r.Workload), Action: r.Action, Rationale: r.Rationale,
		Effort: api.RecommendationEffort(r.Effort), Confidence: r.Confidence, RisksAddressed: optionalSlice(r.Risks),
		Numbers: optionalSlice(mapSlice(r.Numbers, func(n recommend.Number) api.RecommendationNumber {
			return api.RecommendationNumber{Name: n.Name, Value: n.Value, Unit: optional(n.Unit), Workload: optional(n.Workload),
				Formula: optional(n.Formula), Source: optional(n.Source)}
		})),
		MonthlyCostImpact: costImpactOf(r.MonthlyUSD)}
	return v
}

// costImpactOf is a monthly cost impact, or nil when none is stated.
func costImpactOf(c *recommend.CostImpact) *api.CostImpact {
	if c == nil {
		return nil
	}
	return &api.CostImpact{LowUSD: c.LowUSD, HighUSD: c.HighUSD, Basis: c.Basis}
}

// resolutionOf is one settled conflict between families.
func resolutionOf(r recommend.Resolution) api.Resolution {
	return api.Resolution{Rule: r.Rule, Winner: r.Winner, Loser: r.Loser, Detail: r.Detail, AffectedIds: optionalSlice(r.Affected)}
}

// reportDiffOf is the comparison of two reports (versions or a scenario
// with its base).
func reportDiffOf(d report.ReportDiff) api.ReportDiff {
	metric := func(m report.MetricChange) api.MetricChange {
		return api.MetricChange{Family: m.Family, Workload: optional(m.Workload), Name: m.Name, Unit: optional(m.Unit),
			Base: m.Base, Other: m.Other, Delta: m.Delta, DeltaPct: m.DeltaPct}
	}
	rec := func(r report.RecRef) api.RecommendationRef {
		return api.RecommendationRef{ID: r.ID, Priority: r.Priority, Action: r.Action}
	}
	finding := func(f report.FindingRef) api.FindingRef {
		return api.FindingRef{Family: f.Family, Title: f.Title, Severity: optional(f.Severity)}
	}
	return api.ReportDiff{
		BaseID: d.BaseID, OtherID: d.OtherID, BaseCatalogVersions: d.BaseCatalog, OtherCatalogVersions: d.OtherCatalog,
		Status:  api.StringChange{Base: d.Status.Base, Other: d.Status.Other, Changed: d.Status.Changed},
		Changed: d.Changed, Cost: mapSlice(d.Cost, metric), Metrics: mapSlice(d.Metrics, metric),
		MetricsOmitted: optional(d.MetricsOmitted), RecommendationsCompared: d.RecommendationsCompared,
		RecommendationsAdded: mapSlice(d.RecommendationsAdded, rec), RecommendationsRemoved: mapSlice(d.RecommendationsRemoved, rec),
		RecommendationsChanged: mapSlice(d.RecommendationsChanged, func(c report.RecChange) api.RecommendationChange {
			return api.RecommendationChange{ID: c.ID, Action: c.Action,
				Priority:   api.StringChange{Base: c.Priority.Base, Other: c.Priority.Other, Changed: c.Priority.Changed},
				Confidence: api.NumberChange{Base: c.Confidence.Base, Other: c.Confidence.Other, Changed: c.Confidence.Changed},
				CostImpact: api.CostImpactChange{Base: costImpactOf(c.CostImpact.Base), Other: costImpactOf(c.CostImpact.Other), Changed: c.CostImpact.Changed}}
		}),
		Findings: api.FindingsDiff{Added: mapSlice(d.Findings.Added, finding), Removed: mapSlice(d.Findings.Removed, finding)},
		Summary:  d.Summary,
	}
}
