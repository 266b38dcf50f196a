package consultant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/report"
)

// The tools a chat may offer. Each is bound to the conversation's tenant
// and assessment: none takes a tenant or an assessment id, and arguments
// they do not define are refused.
const (
	ToolReadReport        = "read_report"
	ToolEstimateInference = "estimate_inference"
	ToolEstimateTraining  = "estimate_training"
	ToolRunScenario       = "run_scenario"
)

// Tools lists every tool, in the order they are offered.
func Tools() []string {
	return []string{ToolReadReport, ToolEstimateInference, ToolEstimateTraining, ToolRunScenario}
}

// Report sections read_report can return.
var reportSections = []string{"executive_summary", "architecture", "cost", "projection", "compliance", "mlops", "roadmap",
	"risks", "assumptions_and_sources", "family"}

// toolDefs are the tools' definitions as the model sees them.
func toolDefs(allowed []string) []llm.Tool {
	defs := map[string]llm.Tool{
		ToolReadReport: {Name: ToolReadReport,
			Description: "Read a section of this assessment's stored report, or one agent family's figures and findings with their working " +
				"(formula and source). Optionally keep only entries whose name or title contains match.",
			Parameters: []byte(`{"type":"object","additionalProperties":false,"required":["section"],"properties":{` +
				`"section":{"type":"string","enum":["` + strings.Join(reportSections, `","`) + `"]},` +
				`"family":{"type":"string","description":"for section family: strategy, cloud, mlops, compliance, research or simulation"},` +
				`"match":{"type":"string","maxLength":80}}}`)},
		ToolEstimateInference: {Name: ToolEstimateInference,
			Description: "Size serving a model: the body of POST /v1/estimates/inference (model or architecture, precision, input_tokens, " +
				"output_tokens, and optionally gpu or instance, concurrency, slo, peak_requests_per_second).",
			Parameters: []byte(`{"type":"object"}`)},
		ToolEstimateTraining: {Name: ToolEstimateTraining,
			Description: "Size training or fine-tuning a model: the body of POST /v1/estimates/training.",
			Parameters:  []byte(`{"type":"object"}`)},
		ToolRunScenario: {Name: ToolRunScenario,
			Description: "Run a what-if of this assessment through the whole pipeline with overrides (traffic_multiplier, regions, " +
				"precision, providers, budget_usd_month, ...) and return what changed against it. Takes a minute or more.",
			Parameters: []byte(`{"type":"object","additionalProperties":false,"required":["overrides"],"properties":{` +
				`"name":{"type":"string","maxLength":200},"overrides":{"type":"object"}}}`)},
	}
	out := make([]llm.Tool, 0, len(allowed))
	for _, name := range Tools() {
		for _, a := range allowed {
			if a == name {
				out = append(out, defs[name])
			}
		}
	}
	return out
}

// offered are the tools of this turn: those the caller's role may use and
// this deployment can run.
func (t *Turn) offered() []string {
	var out []string
	for _, name := range Tools() {
		if !t.who.may(name) {
			continue
		}
		switch name {
		case ToolEstimateInference, ToolEstimateTraining:
			if t.chat.d.Estimates == nil {
				continue
			}
		case ToolRunScenario:
			if t.chat.d.WhatIfs == nil {
				continue
			}
		}
		out = append(out, name)
	}
	return out
}

// toolOutcome is a tool call's result (JSON) or its refusal.
type toolOutcome struct {
	result  string
	failure string
	// full is the whole result, for grounding, before the length cap.
	full []byte
}

// runTool runs one call the model asked for, within the caller's rights.
func (t *Turn) runTool(ctx context.Context, call llm.ToolCall, offered []string) toolOutcome {
	allowed := false
	for _, o := range offered {
		if o == call.Name {
			allowed = true
		}
	}
	if !allowed {
		return toolOutcome{failure: fmt.Sprintf("there is no tool %q for you; the tools you may call are: %s",
			call.Name, strings.Join(offered, ", "))}
	}
	var v any
	var err error
	switch call.Name {
	case ToolReadReport:
		v, err = t.readReport(call.Arguments)
	case ToolEstimateInference:
		v, err = t.chat.d.Estimates.Estimate(ctx, "inference", []byte(call.Arguments))
	case ToolEstimateTraining:
		v, err = t.chat.d.Estimates.Estimate(ctx, "training", []byte(call.Arguments))
	case ToolRunScenario:
		v, err = t.runScenario(ctx, call.Arguments)
	}
	if err != nil {
		if ctx.Err() != nil {
			return toolOutcome{failure: "the request ended before the tool finished"}
		}
		return toolOutcome{failure: capRunes(err.Error(), 1000)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return toolOutcome{failure: "the result could not be encoded"}
	}
	return toolOutcome{result: capRunes(string(b), t.chat.cfg.MaxToolResult), full: b}
}

// strictDecode decodes a tool's arguments, refusing fields it does not define.
func strictDecode(args string, v any) error {
	if strings.TrimSpace(args) == "" {
		args = "{}"
	}
	dec := json.NewDecoder(strings.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the arguments do not match the tool's parameters: %w", err)
	}
	return nil
}

type readReportArgs struct {
	Section string `json:"section"`
	Family  string `json:"family"`
	Match   string `json:"match"`
}

// readReport returns a section of the conversation's stored report.
func (t *Turn) readReport(args string) (any, error) {
	var a readReportArgs
	if err := strictDecode(args, &a); err != nil {
		return nil, err
	}
	m := t.doc.Model
	match := strings.ToLower(strings.TrimSpace(a.Match))
	keep := func(s ...string) bool {
		if match == "" {
			return true
		}
		for _, x := range s {
			if strings.Contains(strings.ToLower(x), match) {
				return true
			}
		}
		return false
	}
	switch a.Section {
	case "executive_summary":
		return m.Executive, nil
	case "architecture":
		return m.Architecture, nil
	case "cost":
		return m.Cost, nil
	case "projection":
		return m.Projection, nil
	case "compliance":
		return m.Compliance, nil
	case "mlops":
		return m.MLOps, nil
	case "roadmap":
		return m.Roadmap, nil
	case "risks":
		return m.Risks, nil
	case "assumptions_and_sources":
		return m.Sources, nil
	case "family":
		for _, f := range t.doc.Families {
			if f.Family != a.Family {
				continue
			}
			out := report.FamilySection{Family: f.Family, Status: f.Status, Summary: f.Summary, Error: f.Error, CatalogVersion: f.CatalogVersion}
			for _, x := range f.Metrics {
				if keep(x.Name, x.Workload) {
					out.Metrics = append(out.Metrics, x)
				}
			}
			for _, x := range f.Findings {
				if keep(x.Title, x.Detail) {
					out.Findings = append(out.Findings, x)
				}
			}
			return out, nil
		}
		names := make([]string, 0, len(t.doc.Families))
		for _, f := range t.doc.Families {
			names = append(names, f.Family)
		}
		return nil, fmt.Errorf("family %q is not in this report; it has %s", a.Family, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("section %q: want one of %s", a.Section, strings.Join(reportSections, ", "))
}

type scenarioArgs struct {
	Name      string          `json:"name"`
	Overrides json.RawMessage `json:"overrides"`
}

// scenarioResult is what run_scenario returns: the new scenario and its
// report's differences from this assessment's.
type scenarioResult struct {
	ScenarioID string             `json:"scenario_id"`
	Name       string             `json:"name,omitempty"`
	Diff       *report.ReportDiff `json:"diff,omitempty"`
}

// runScenario starts a what-if of the conversation's assessment and waits
// (up to ScenarioWait) for its report to compare.
func (t *Turn) runScenario(ctx context.Context, args string) (any, error) {
	var a scenarioArgs
	if err := strictDecode(args, &a); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(a.Overrides)) == 0 || bytes.TrimSpace(a.Overrides)[0] != '{' {
		return nil, errors.New("overrides: must be an object of the fields to change")
	}
	if !utf8.ValidString(a.Name) || utf8.RuneCountInString(a.Name) > 200 {
		return nil, errors.New("name: must be at most 200 characters of text")
	}
	w := t.chat.d.WhatIfs
	sid, err := w.Start(ctx, t.who, t.conv.AssessmentID, a.Name, a.Overrides)
	if err != nil {
		return nil, err
	}
	wait, cancel := context.WithTimeout(ctx, t.chat.cfg.ScenarioWait)
	defer cancel()
	tick := time.NewTicker(t.chat.cfg.ScenarioPoll)
	defer tick.Stop()
	for {
		// Each read gets the request's context: the wait bounds the
		// polling, not a read in flight.
		d, ready, err := w.Diff(ctx, t.who.Tenant, t.conv.AssessmentID, sid)
		if err != nil {
			return nil, err
		}
		if ready {
			return scenarioResult{ScenarioID: sid, Name: a.Name, Diff: &d}, nil
		}
		select {
		case <-wait.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("scenario %s was started, but its report was not written within %s; "+
				"its result will be at /v1/assessments/%s/scenarios/%s", sid, t.chat.cfg.ScenarioWait, t.conv.AssessmentID, sid)
		case <-tick.C:
		}
	}
}

// capRunes cuts s to at most n bytes without splitting a character.
func capRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := s[:n]
	for len(cut) > 0 && !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return cut + "…"
}
