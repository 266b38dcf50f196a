package analysis

import (
	"fmt"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// tokenMix is the request's input tokens per output token over its LLM
// workloads, weighted by request rate; ok is false when no workload states
// both mean_input_tokens and mean_output_tokens.
type tokenMix struct {
	inPerOut float64
	text     string
	ok       bool
}

// requestTokenMix weights each LLM workload by its average request rate
// (else its peak, else 1): sum(rate x in) / sum(rate x out).
func requestTokenMix(req *inframindv1.AssessmentRequest) tokenMix {
	var in, out float64
	var parts []string
	for i, w := range req.GetWorkloads() {
		if w.GetMeanInputTokens() <= 0 || w.GetMeanOutputTokens() <= 0 {
			continue
		}
		rate := w.GetAvgRequestsPerSecond()
		if rate <= 0 {
			rate = w.GetPeakRequestsPerSecond()
		}
		if rate <= 0 {
			rate = 1
		}
		in += rate * float64(w.GetMeanInputTokens())
		out += rate * float64(w.GetMeanOutputTokens())
		parts = append(parts, fmt.Sprintf("%s %d in / %d out at %s rps", workloadLabel(i, w), w.GetMeanInputTokens(), w.GetMeanOutputTokens(), num(rate)))
	}
	if out == 0 {
		return tokenMix{text: "no workload states mean_input_tokens and mean_output_tokens"}
	}
	return tokenMix{inPerOut: in / out, text: strings.Join(parts, "; "), ok: true}
}

// buildVsBuy compares the plan's self-hosted cost per million output tokens
// with each hosted API in the catalogue. A hosted API bills input and output
// tokens, so per million output tokens it costs out + (in/out) x in-price.
// Self-hosting is a fixed monthly cost F = s x T (s per million output
// tokens at the plan's volume T), hosting is variable, so they cost the same
// at V* = F / h million output tokens a month: above V* self-hosting is
// cheaper (up to the plan's capacity).
func buildVsBuy(cat *catalog.Catalog, req *inframindv1.AssessmentRequest, plan cloudPlanView) ([]*inframindv1.Metric, []*inframindv1.Finding, string) {
	sLow, sHigh, ok := plan.pair(MetricSelfHostedUSDPerMTokLow, MetricSelfHostedUSDPerMTokHigh)
	if !ok {
		return nil, []*inframindv1.Finding{missingFinding([]string{MetricSelfHostedUSDPerMTokLow, MetricSelfHostedUSDPerMTokHigh},
			"self-hosting cannot be compared with hosted APIs (a plan without LLM serving has no cost per token)")}, ""
	}
	if len(cat.HostedAPIs) == 0 {
		return nil, []*inframindv1.Finding{finding(severityLow, "No hosted-API prices in the catalogue",
			fmt.Sprintf("Catalogue %s lists no hosted-API token prices, so build vs buy cannot be compared.", cat.Version))}, ""
	}
	mix := requestTokenMix(req)
	var findings []*inframindv1.Finding
	if !mix.ok {
		findings = append(findings, finding(severityLow, "Token mix not stated",
			"No LLM workload states mean_input_tokens and mean_output_tokens, so hosted APIs are compared on their output price alone, a lower bound on what they would cost."))
	}
	volume, haveVolume := plan.plan[MetricOutputTokensPerMonth]
	if !haveVolume || volume == 0 {
		findings = append(findings, missingFinding([]string{MetricOutputTokensPerMonth}, "no break-even volume can be given"))
		haveVolume = false
	}
	mtok := volume / 1e6
	var metrics []*inframindv1.Metric
	var build, buy, depends []string
	for _, api := range cat.HostedAPIs {
		id := api.Provider + "_" + strings.ReplaceAll(api.Model, "-", "_")
		id = strings.ReplaceAll(id, ".", "_")
		label := api.Provider + " " + api.Model
		h := api.OutputUSDPerMTok + mix.inPerOut*api.InputUSDPerMTok
		src := fmt.Sprintf("catalogue %s hosted_apis row %s: %s (as of %s)", cat.Version, label, api.Source, api.AsOf)
		metrics = append(metrics, metric("hosted_usd_per_mtok_"+id, h, "USD per million output tokens",
			fmt.Sprintf("%s output + %s input tokens per output token x %s input = %s (token mix: %s)", rate(api.OutputUSDPerMTok), num(mix.inPerOut), rate(api.InputUSDPerMTok), usd(h), mix.text), src, ""))
		if haveVolume && h > 0 {
			for _, side := range []struct {
				name string
				s    float64
			}{{BoundLow, sLow}, {BoundHigh, sHigh}} {
				v := side.s * mtok / h
				metrics = append(metrics, rangeEnd(metric(fmt.Sprintf("breakeven_mtok_per_month_%s_%s", id, side.name), v, "million output tokens/month",
					fmt.Sprintf("self-hosted monthly cost %s/Mtok x %s Mtok/month (%s) / %s hosted per Mtok = %s Mtok/month", usd(side.s), num(mtok), MetricOutputTokensPerMonth, usd(h), num(v)),
					src+"; "+srcCloudPlan, ""), "breakeven_mtok_per_month_"+id, side.name))
			}
		}
		switch {
		case sHigh < h:
			build = append(build, fmt.Sprintf("%s (%s/Mtok)", label, usd(h)))
		case sLow > h:
			buy = append(buy, fmt.Sprintf("%s (%s/Mtok)", label, usd(h)))
		default:
			depends = append(depends, fmt.Sprintf("%s (%s/Mtok)", label, usd(h)))
		}
	}
	n := len(cat.HostedAPIs)
	verdict := "depends on the model tier you need"
	// A strict majority decides; an even split is left to the model tier.
	switch {
	case 2*len(build) > n:
		verdict = "build (self-host)"
	case 2*len(buy) > n:
		verdict = "buy (hosted API)"
	}
	var reasons []string
	reasons = append(reasons, fmt.Sprintf("self-hosting costs %s per million output tokens at the plan's volume", usdSpan(sLow, sHigh)))
	if len(build) > 0 {
		reasons = append(reasons, "cheaper than "+strings.Join(build, ", "))
	}
	if len(buy) > 0 {
		reasons = append(reasons, "dearer than "+strings.Join(buy, ", "))
	}
	if len(depends) > 0 {
		reasons = append(reasons, "within the range of "+strings.Join(depends, ", "))
	}
	if haveVolume {
		reasons = append(reasons, fmt.Sprintf("the plan serves %s million output tokens a month; below an API's break-even volume that API is cheaper", num(mtok)))
	}
	t := req.GetBusiness().GetTeam()
	if t.GetMlEngineers()+t.GetOpsEngineers() == 0 {
		reasons = append(reasons, "the team has no ML or ops engineers to run self-hosted serving")
	}
	findings = append(findings, finding(severityInfo, "Build vs buy: "+verdict,
		"Rule: build when self-hosting is cheaper than more than half the catalogued APIs even on its high estimate, buy when it is dearer than more than half on its low estimate, otherwise (an even split included) it depends on the tier. "+
			strings.Join(reasons, "; ")+". The catalogue ranks no model quality: compare against the tier whose quality you need."))
	return metrics, findings, verdict
}
