package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/infra-mind/infra-mind/pkg/bus"
	"github.com/infra-mind/infra-mind/pkg/synth"
)

// Step is one step of an assessment's way through the services, over the
// traced one-at-a-time samples: when it starts, from the start of the
// gateway's POST, and how long it takes (p50s), and how often it was seen.
type Step struct {
	Name     string
	StartP50 time.Duration
	P50      time.Duration
	N        int
}

// tracedSample is one followed assessment: its trace and when the client
// posted it and saw its completed event.
type tracedSample struct {
	trace       trace.TraceID
	posted, got time.Time
}

// postSpan names the gateway's span of the request that creates an assessment.
const postSpan = "POST /v1/assessments"

// breakdown turns the spans of the samples into steps, ordered by when
// they start. A message's span gives four steps (waiting in its stream,
// the handler, publishing its outputs, acknowledging); the synthesizer's
// delivery that closes the assessment is told from its other deliveries,
// and its child spans are the close's steps.
func breakdown(sink *spanSink, samples []tracedSample) []Step {
	type obs struct{ start, took []time.Duration }
	seen := map[string]*obs{}
	for _, smp := range samples {
		spans := sink.trace(smp.trace)
		i := slices.IndexFunc(spans, func(s recordedSpan) bool { return s.Name == postSpan })
		if i < 0 {
			continue
		}
		t0 := spans[i].Start
		add := func(name string, from, to time.Time) {
			if from.IsZero() || to.IsZero() {
				return
			}
			o := seen[name]
			if o == nil {
				o = &obs{}
				seen[name] = o
			}
			o.start = append(o.start, from.Sub(t0))
			o.took = append(o.took, to.Sub(from))
		}
		add("whole assessment, as the client timed it", smp.posted, smp.got)
		add("gateway: "+postSpan, spans[i].Start, spans[i].End)
		for _, s := range spans {
			// The POST's own steps (authenticating, the limits, storing,
			// queueing); the consumers of what it published are its
			// descendants too, told by their consumer.
			if s.Parent == spans[i].ID && s.Consumer == "" {
				add("gateway POST: "+strings.TrimPrefix(s.Name, "gateway "), s.Start, s.End)
			}
		}
		closing := closingSpan(spans)
		for _, s := range spans {
			if s.Consumer == "" {
				continue
			}
			label := s.Consumer
			if s.Consumer == synth.DurableName {
				label = "synthesizer, other results"
				if s.ID == closing.ID {
					label = "synthesizer, the closing result"
				}
			}
			add(label+": waiting in its stream", s.Events[bus.SpanEventStored], s.Start)
			handled, ok := s.Events[bus.SpanEventHandled]
			if !ok {
				add(label+": delivery", s.Start, s.End)
				continue
			}
			add(label+": handler", s.Start, handled)
			if published, ok := s.Events[bus.SpanEventPublished]; ok {
				add(label+": publishing its outputs", handled, published)
				add(label+": acknowledging", published, s.End)
			}
		}
		if closing.ID.IsValid() {
			for _, s := range spans {
				// Its own steps; the consumers of the events it published
				// are children of its span too.
				if s.Parent == closing.ID && s.Consumer == "" {
					add("synthesizer close: "+strings.TrimPrefix(s.Name, "synthesizer "), s.Start, s.End)
				}
			}
			add("completed event to the client (SSE)", closing.Events[bus.SpanEventPublished], smp.got)
		}
	}
	steps := make([]Step, 0, len(seen))
	for name, o := range seen {
		slices.Sort(o.start)
		slices.Sort(o.took)
		steps = append(steps, Step{Name: name, StartP50: percentile(o.start, 50), P50: percentile(o.took, 50), N: len(o.took)})
	}
	slices.SortFunc(steps, func(a, b Step) int {
		return cmp.Or(cmp.Compare(a.StartP50, b.StartP50), cmp.Compare(a.Name, b.Name))
	})
	return steps
}

// closeStep is the span of the step only a closing delivery takes.
const closeStep = "synthesizer load results"

// closingSpan is the synthesizer's delivery that closed the assessment: the
// one that loaded the results (every delivery has steps of its own, only a
// close loads them), the last to end if several did (a redelivery), or else
// the last synthesizer delivery to end.
func closingSpan(spans []recordedSpan) recordedSpan {
	parents := map[trace.SpanID]bool{}
	for _, s := range spans {
		if s.Consumer == "" && s.Name == closeStep {
			parents[s.Parent] = true
		}
	}
	var best recordedSpan
	bestHasChildren := false
	for _, s := range spans {
		if s.Consumer != synth.DurableName {
			continue
		}
		has := parents[s.ID]
		switch {
		case has && !bestHasChildren, has == bestHasChildren && s.End.After(best.End):
			best, bestHasChildren = s, has
		}
	}
	return best
}

// waitForSpans waits until every sample's closing delivery and its steps
// have reached the sink (services in their own processes export spans in
// batches), or until limit passes.
func waitForSpans(ctx context.Context, sink *spanSink, samples []tracedSample, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, smp := range samples {
			spans := sink.trace(smp.trace)
			c := closingSpan(spans)
			// The closing delivery is in once its close's step is: every
			// synthesizer delivery has steps of its own.
			if !c.ID.IsValid() || !slices.ContainsFunc(spans, func(s recordedSpan) bool { return s.Parent == c.ID && s.Name == closeStep }) ||
				!slices.ContainsFunc(spans, func(s recordedSpan) bool { return s.Name == postSpan }) {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// breakdownTable writes the steps as a markdown table.
func breakdownTable(w *strings.Builder, r Result) {
	if len(r.Breakdown) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s, where one assessment's time goes (one at a time, %d traced samples; p50s, from the services' spans):\n\n",
		r.Deployment, len(r.Traced.traced))
	w.WriteString("| step | starts at | takes | seen |\n|---|---|---|---|\n")
	for _, s := range r.Breakdown {
		fmt.Fprintf(w, "| %s | %s | %s | %d |\n", s.Name, ms(s.StartP50), ms(s.P50), s.N)
	}
}
