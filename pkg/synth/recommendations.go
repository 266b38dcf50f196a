package synth

import (
	"context"
	"errors"
	"fmt"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/recommend"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// topRecommendations is how many recommendations the completed event carries.
const topRecommendations = 3

// recommendations returns the closed assessment's stored recommendations,
// building and storing them first when none are written. Like the report, a
// written set is final: a result arriving after the close does not rewrite
// what readers already hold.
func (s *Synthesizer) recommendations(ctx context.Context, a store.Assessment, results map[string]*inframindv1.AgentResultPublished) (recommend.Set, error) {
	// Written with an insert (no read on the way, as for the report); only
	// when a set is already written is it read back, since that one holds.
	set := recommend.Build(results)
	err := s.store.Recommendations.Create(ctx, store.Recommendations{
		TenantID:     a.TenantID,
		AssessmentID: a.ID,
		Status:       a.Status,
		Set:          set,
		CreatedAt:    s.now(),
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		got, err := s.store.Recommendations.Get(ctx, a.TenantID, a.ID)
		if err != nil {
			return recommend.Set{}, fmt.Errorf("read recommendations of %s: %w", a.ID, err)
		}
		return got.Set, nil
	case err != nil:
		return recommend.Set{}, fmt.Errorf("store recommendations of %s: %w", a.ID, err)
	}
	return set, nil
}

// summarize fills the completed event's summary so a subscriber rarely needs
// to call back: the plan's on-demand monthly cost range, the top
// recommendations and where to read the rest.
func summarize(ev *inframindv1.AssessmentCompleted, a store.Assessment, results map[string]*inframindv1.AgentResultPublished, set recommend.Set) {
	base := "/v1/assessments/" + a.ID
	ev.Links = &inframindv1.CompletedLinks{
		Report:          base + "/report",
		Recommendations: base + "/recommendations",
		Events:          base + "/events",
	}
	ev.MonthlyCost = monthlyCost(results)
	for i, r := range set.Recommendations {
		if i == topRecommendations {
			break
		}
		ev.TopRecommendations = append(ev.TopRecommendations, &inframindv1.RecommendationSummary{
			Id: r.ID, Priority: r.Priority, Action: r.Action,
		})
	}
}

// monthlyCost is the cloud family's plan-level on-demand range (contract.go);
// nil when the cloud family did not answer or could not price the plan,
// because an unknown cost is absent, never zero.
func monthlyCost(results map[string]*inframindv1.AgentResultPublished) *inframindv1.MonthlyCostRange {
	cloud, ok := results[string(assessment.FamilyCloud)]
	if !ok || cloud.GetStatus() == resultFailed {
		return nil
	}
	var lo, hi *inframindv1.Metric
	for _, m := range cloud.GetMetrics() {
		switch {
		case m.GetWorkload() != "":
		case m.GetName() == analysis.MetricMonthlyCostLow:
			lo = m
		case m.GetName() == analysis.MetricMonthlyCostHigh:
			hi = m
		}
	}
	if lo == nil || hi == nil {
		return nil
	}
	return &inframindv1.MonthlyCostRange{
		LowUsd:  lo.GetValue(),
		HighUsd: hi.GetValue(),
		Basis: fmt.Sprintf("cloud family %s / %s (on demand, %g hours a month)",
			analysis.MetricMonthlyCostLow, analysis.MetricMonthlyCostHigh, plan.HoursPerMonth),
	}
}
