package synth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/bus"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// The completed event summarises the outcome: the plan's monthly range, the
// three most urgent recommendations (as stored) and the links to read more.
func TestCompletedEventCarriesSummaryAndRecommendationsAreStored(t *testing.T) {
	e := start(t, true)
	ctx := context.Background()
	e.create(t, "acme", "sum", time.Now().Add(time.Hour))
	for _, f := range assessment.Families() {
		res := &inframindv1.AgentResultPublished{
			Metadata: &inframindv1.Metadata{EventId: "s-" + string(f), TenantId: "acme", AssessmentId: "sum", Time: timestamppb.Now()},
			Family:   string(f), Status: "ok", Summary: "s",
			Findings: []*inframindv1.Finding{{Severity: "medium", Title: string(f) + " needs attention", Detail: "d"}},
		}
		if f == assessment.FamilyCloud {
			res.Metrics = []*inframindv1.Metric{
				{Name: analysis.MetricMonthlyCostLow, Value: 1000, Unit: "USD"},
				{Name: analysis.MetricMonthlyCostHigh, Value: 2500, Unit: "USD"},
			}
		}
		if f == assessment.FamilyCompliance {
			res.Findings = append(res.Findings, &inframindv1.Finding{Severity: "high", Title: "GDPR applies but is not declared"})
		}
		require.NoError(t, e.bus.Publish(ctx, bus.Message{
			ID: "s-" + string(f), Type: bus.TypeAgentResultPublished, Source: "/test", Subject: bus.SubjectResult("acme", string(f)),
			Tenant: "acme", CESubject: "sum", Time: time.Now(), Data: res,
		}))
	}
	waitStatus(t, e.store, "acme", "sum", assessment.StatusCompleted)

	var ev inframindv1.AssessmentCompleted
	require.Eventually(t, func() bool {
		st, err := e.bus.JS.Stream(ctx, bus.StreamEvents)
		if err != nil {
			return false
		}
		msg, err := st.GetLastMsgForSubject(ctx, bus.SubjectCompleted("acme", "sum"))
		return err == nil && protojson.Unmarshal(msg.Data, &ev) == nil
	}, 10*time.Second, 50*time.Millisecond)

	require.Equal(t, 1000.0, ev.GetMonthlyCost().GetLowUsd())
	require.Equal(t, 2500.0, ev.GetMonthlyCost().GetHighUsd())
	require.Equal(t, "/v1/assessments/sum/recommendations", ev.GetLinks().GetRecommendations())
	require.Equal(t, "/v1/assessments/sum/report", ev.GetLinks().GetReport())
	require.Equal(t, "/v1/assessments/sum/events", ev.GetLinks().GetEvents())

	stored, err := e.store.Recommendations.Get(ctx, "acme", "sum")
	require.NoError(t, err)
	require.Len(t, stored.Set.Recommendations, len(assessment.Families())+1)
	require.Len(t, ev.GetTopRecommendations(), 3)
	for i, top := range ev.GetTopRecommendations() {
		require.Equal(t, stored.Set.Recommendations[i].ID, top.GetId())
		require.Equal(t, stored.Set.Recommendations[i].Action, top.GetAction())
	}
	require.Equal(t, "critical", ev.GetTopRecommendations()[0].GetPriority(), "an undeclared regime ranks first")
}

// Without a priced plan the cost is absent, never zero.
func TestCompletedEventOmitsUnknownCost(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	e.create(t, "acme", "nocost", time.Now().Add(time.Hour))
	e.expire(t, e.synth, "acme", "nocost")
	st, err := e.bus.JS.Stream(ctx, bus.StreamEvents)
	require.NoError(t, err)
	msg, err := st.GetLastMsgForSubject(ctx, bus.SubjectCompleted("acme", "nocost"))
	require.NoError(t, err)
	var ev inframindv1.AssessmentCompleted
	require.NoError(t, protojson.Unmarshal(msg.Data, &ev))
	require.Nil(t, ev.GetMonthlyCost())
	require.Empty(t, ev.GetTopRecommendations())
	got, err := e.store.Recommendations.Get(ctx, "acme", "nocost")
	require.NoError(t, err, "an assessment that failed still has its (empty) list, so readers see it is final")
	require.Empty(t, got.Set.Recommendations)
}
