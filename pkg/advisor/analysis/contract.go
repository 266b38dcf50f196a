package analysis

// The cloud family's result is the contract between families: simulation and
// strategy read these metrics from it (they subscribe to its result; see
// Upstream). Plan-level metrics have no workload; per-workload metrics carry
// the workload's name. A metric a plan cannot support (for example no
// published 3-year price for the chosen instance) is absent, never zero.
const (
	// Whole recommended plan, USD per month (730 hours), as a low/high range.
	MetricMonthlyCostLow           = RangeMonthlyCost + "_low"     // on demand
	MetricMonthlyCostHigh          = RangeMonthlyCost + "_high"    // on demand
	MetricMonthlyCommit1YLow       = RangeMonthlyCommit1Y + "_low" // 1-year commitment
	MetricMonthlyCommit1YHigh      = RangeMonthlyCommit1Y + "_high"
	MetricMonthlyCommit3YLow       = RangeMonthlyCommit3Y + "_low" // 3-year commitment
	MetricMonthlyCommit3YHigh      = RangeMonthlyCommit3Y + "_high"
	MetricMonthlySpotLow           = RangeMonthlySpot + "_low" // spot / preemptible
	MetricMonthlySpotHigh          = RangeMonthlySpot + "_high"
	MetricPlanGPUsLow              = RangePlanGPUs + "_low" // accelerators in the plan at peak
	MetricPlanGPUsHigh             = RangePlanGPUs + "_high"
	MetricOutputTokensPerMonth     = "output_tokens_per_month" // served at average load, all LLM workloads
	MetricSelfHostedUSDPerMTokLow  = RangeSelfHostedUSDPerMTok + "_low"
	MetricSelfHostedUSDPerMTokHigh = RangeSelfHostedUSDPerMTok + "_high"

	// Per workload (Metric.workload set) for the recommended deployment.
	MetricReplicasLow            = RangeReplicas + "_low" // replicas needed at the stated peak
	MetricReplicasHigh           = RangeReplicas + "_high"
	MetricReplicaCapacityRPSLow  = RangeReplicaCapacityRPS + "_low" // requests/s one replica serves within the SLO
	MetricReplicaCapacityRPSHigh = RangeReplicaCapacityRPS + "_high"
	MetricReplicaMonthlyUSD      = "replica_monthly_usd" // on-demand cost of one replica per month
	MetricPeakRPS                = "peak_rps"            // the workload's stated peak demand
)

// The ranges the contract's low/high metrics belong to (Metric.range); each
// end carries its bound (Metric.bound, BoundLow or BoundHigh).
const (
	RangeMonthlyCost          = "monthly_cost_usd"
	RangeMonthlyCommit1Y      = "monthly_cost_commit_1y_usd"
	RangeMonthlyCommit3Y      = "monthly_cost_commit_3y_usd"
	RangeMonthlySpot          = "monthly_cost_spot_usd"
	RangePlanGPUs             = "plan_gpus"
	RangeSelfHostedUSDPerMTok = "self_hosted_usd_per_mtok"
	RangeReplicas             = "replicas"
	RangeReplicaCapacityRPS   = "replica_capacity_rps"
)

// The ends of a range a metric may be (Metric.bound); "" is a single value.
const (
	BoundLow  = "low"
	BoundHigh = "high"
)
