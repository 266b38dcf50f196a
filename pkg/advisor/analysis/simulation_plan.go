package analysis

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// srcCloudPlan names where contract metrics come from.
const srcCloudPlan = "the cloud family's recommended plan (metric contract in contract.go)"

// cloudPlanView is the part of the cloud family's result that simulation and
// strategy read, by metric name (contract.go). A metric the plan cannot
// support is absent: has reports whether it was given.
type cloudPlanView struct {
	plan map[string]float64
	// workloads are the per-workload contract metrics, sorted by workload name
	// so sampling order never depends on metric order.
	workloads []workloadPlan
}

// workloadPlan is one workload's contract metrics.
type workloadPlan struct {
	name    string
	metrics map[string]float64
}

// stepInputs are the figures a workload needs to be stepped month by month:
// peak_rps, replica capacity low/high and the replica's monthly price.
func stepInputs() []string {
	return []string{MetricPeakRPS, MetricReplicaCapacityRPSLow, MetricReplicaCapacityRPSHigh, MetricReplicaMonthlyUSD}
}

// steppable reports whether the workload carries every step input and serves
// traffic; missing lists what it lacks.
func (w workloadPlan) steppable() (ok bool, missing []string) {
	for _, n := range stepInputs() {
		if _, has := w.metrics[n]; !has {
			missing = append(missing, n)
		}
	}
	return len(missing) == 0 && w.metrics[MetricPeakRPS] > 0, missing
}

// pair returns a low/high plan metric pair when both are present.
func (v cloudPlanView) pair(low, high string) (lo, hi float64, ok bool) {
	lo, okL := v.plan[low]
	hi, okH := v.plan[high]
	return lo, hi, okL && okH
}

// contractPairs are the low/high metric pairs whose order is checked.
func contractPairs() [][2]string {
	return [][2]string{
		{MetricMonthlyCostLow, MetricMonthlyCostHigh},
		{MetricMonthlyCommit1YLow, MetricMonthlyCommit1YHigh},
		{MetricMonthlyCommit3YLow, MetricMonthlyCommit3YHigh},
		{MetricMonthlySpotLow, MetricMonthlySpotHigh},
		{MetricPlanGPUsLow, MetricPlanGPUsHigh},
		{MetricSelfHostedUSDPerMTokLow, MetricSelfHostedUSDPerMTokHigh},
		{MetricReplicasLow, MetricReplicasHigh},
		{MetricReplicaCapacityRPSLow, MetricReplicaCapacityRPSHigh},
	}
}

// contractNames lists every contract metric name, to ignore the cloud
// family's other metrics.
func contractNames() []string {
	out := []string{MetricOutputTokensPerMonth, MetricReplicaMonthlyUSD, MetricPeakRPS}
	for _, p := range contractPairs() {
		out = append(out, p[0], p[1])
	}
	return out
}

// readCloudPlan reads the contract metrics from the cloud family's result.
// A nil or failed result, a negative or non-finite value, a low above its
// high or a zero replica capacity is malformed input (an error); an absent
// metric is not an error: callers report it as a finding.
func readCloudPlan(cloud *inframindv1.AgentResultPublished, family assessment.Family) (cloudPlanView, error) {
	if cloud == nil {
		return cloudPlanView{}, unanalysable("upstream %s result: missing; %s reads the cloud family's plan", assessment.FamilyCloud, family)
	}
	// A cloud family that could not analyse the request still reports (status
	// "failed" with its reason); pass the reason on rather than a missing metric.
	if cloud.GetStatus() == "failed" {
		return cloudPlanView{}, unanalysable("upstream %s result: failed: %s", assessment.FamilyCloud, cloud.GetError())
	}
	names := contractNames()
	v := cloudPlanView{plan: map[string]float64{}}
	byWorkload := map[string]map[string]float64{}
	for _, m := range cloud.GetMetrics() {
		if !slices.Contains(names, m.GetName()) {
			continue
		}
		val := m.GetValue()
		if val < 0 || math.IsNaN(val) || math.IsInf(val, 0) {
			return cloudPlanView{}, unanalysable("upstream %s result: metric %s%s is %v, not a non-negative number", assessment.FamilyCloud, m.GetName(), workloadSuffix(m.GetWorkload()), val)
		}
		if m.GetWorkload() == "" {
			v.plan[m.GetName()] = val
			continue
		}
		if byWorkload[m.GetWorkload()] == nil {
			byWorkload[m.GetWorkload()] = map[string]float64{}
		}
		byWorkload[m.GetWorkload()][m.GetName()] = val
	}
	check := func(ms map[string]float64, workload string) error {
		for _, p := range contractPairs() {
			lo, okL := ms[p[0]]
			hi, okH := ms[p[1]]
			if okL && okH && lo > hi {
				return unanalysable("upstream %s result: %s %v exceeds %s %v%s", assessment.FamilyCloud, p[0], lo, p[1], hi, workloadSuffix(workload))
			}
		}
		for _, n := range []string{MetricReplicaCapacityRPSLow, MetricReplicaCapacityRPSHigh} {
			if c, ok := ms[n]; ok && c == 0 {
				return unanalysable("upstream %s result: %s is 0%s; a replica that serves nothing cannot be sized", assessment.FamilyCloud, n, workloadSuffix(workload))
			}
		}
		return nil
	}
	if err := check(v.plan, ""); err != nil {
		return cloudPlanView{}, err
	}
	for name, ms := range byWorkload {
		if err := check(ms, name); err != nil {
			return cloudPlanView{}, err
		}
		v.workloads = append(v.workloads, workloadPlan{name: name, metrics: ms})
	}
	slices.SortFunc(v.workloads, func(a, b workloadPlan) int { return strings.Compare(a.name, b.name) })
	return v, nil
}

func workloadSuffix(w string) string {
	if w == "" {
		return ""
	}
	return fmt.Sprintf(" (workload %q)", w)
}

// missingFinding reports plan-level contract metrics the cloud result lacks
// and what could not be computed without them.
func missingFinding(names []string, consequence string) *inframindv1.Finding {
	return finding(severityMedium, "Cloud plan lacks "+strings.Join(names, ", "),
		fmt.Sprintf("The cloud family's result has no %s (a plan that cannot support a figure leaves it out), so %s.",
			strings.Join(names, ", "), consequence))
}
