package analysis

// The cloud family's result is the contract between families: simulation and
// strategy read these metrics from it (they subscribe to its result; see
// Upstream). Plan-level metrics have no workload; per-workload metrics carry
// the workload's name. A metric a plan cannot support (for example no
// published 3-year price for the chosen instance) is absent, never zero.
const (
	// Whole recommended plan, USD per month (730 hours), as a low/high range.
	MetricMonthlyCostLow           = "monthly_cost_usd_low"           // on demand
	MetricMonthlyCostHigh          = "monthly_cost_usd_high"          // on demand
	MetricMonthlyCommit1YLow       = "monthly_cost_commit_1y_usd_low" // 1-year commitment
	MetricMonthlyCommit1YHigh      = "monthly_cost_commit_1y_usd_high"
	MetricMonthlyCommit3YLow       = "monthly_cost_commit_3y_usd_low" // 3-year commitment
	MetricMonthlyCommit3YHigh      = "monthly_cost_commit_3y_usd_high"
	MetricMonthlySpotLow           = "monthly_cost_spot_usd_low" // spot / preemptible
	MetricMonthlySpotHigh          = "monthly_cost_spot_usd_high"
	MetricPlanGPUsLow              = "plan_gpus_low" // accelerators in the plan at peak
	MetricPlanGPUsHigh             = "plan_gpus_high"
	MetricOutputTokensPerMonth     = "output_tokens_per_month" // served at average load, all LLM workloads
	MetricSelfHostedUSDPerMTokLow  = "self_hosted_usd_per_mtok_low"
	MetricSelfHostedUSDPerMTokHigh = "self_hosted_usd_per_mtok_high"

	// Per workload (Metric.workload set) for the recommended deployment.
	MetricReplicasLow            = "replicas_low" // replicas needed at the stated peak
	MetricReplicasHigh           = "replicas_high"
	MetricReplicaCapacityRPSLow  = "replica_capacity_rps_low" // requests/s one replica serves within the SLO
	MetricReplicaCapacityRPSHigh = "replica_capacity_rps_high"
	MetricReplicaMonthlyUSD      = "replica_monthly_usd" // on-demand cost of one replica per month
	MetricPeakRPS                = "peak_rps"            // the workload's stated peak demand
)
