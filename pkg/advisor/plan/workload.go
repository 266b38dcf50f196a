package plan

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/sizing"
	"github.com/infra-mind/infra-mind/pkg/advisor/span"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Label names workload i: its name, or its position when the user gave none.
func Label(i int, w *inframindv1.Workload) string {
	if n := strings.TrimSpace(w.GetName()); n != "" {
		return n
	}
	return fmt.Sprintf("workloads[%d]", i)
}

// sizeAgain sizes the candidate of one offer (an index into the offers the workload was planned over)
// again, with its working.
type sizeAgain func(offer int) (Candidate, error)

// planWorkload plans one workload by kind. Every candidate is sized without its working; then the
// candidates a result shows (every candidate with allWorking) are sized again with it.
func planWorkload(cat *catalog.Catalog, cons Constraints, pool, cpus []offer, i int, w *inframindv1.Workload, allWorking bool) (WorkloadPlan, error) {
	wp := WorkloadPlan{Index: i, Label: Label(i, w), Kind: norm(w.GetKind()), Recommended: -1, FastestUnpriced: -1, PeakRPS: w.GetPeakRequestsPerSecond()}
	var again sizeAgain
	var err error
	switch wp.Kind {
	case KindServing:
		again, err = planLLM(cat, pool, w, &wp, false)
	case KindBatch:
		again, err = planLLM(cat, pool, w, &wp, true)
	case KindTraining:
		again, err = planTraining(cat, pool, w, &wp)
	case KindRAG:
		planVectorStore(w, &wp)
		if w.GetModel() != "" || w.GetArchitecture() != nil || w.GetParamsBillion() > 0 {
			again, err = planLLM(cat, pool, w, &wp, false)
		} else {
			wp.Findings = append(wp.Findings, Finding{Severity: SeverityInfo, Workload: wp.Label, Title: "No generator model for " + wp.Label,
				Detail: wp.Label + " names no model, so only its retrieval side (vector store) is sized; the generator it feeds is planned with the serving workload that uses it."})
		}
	case KindGeneral:
		planGeneral(w, &wp)
		again = priceGeneral(cpus, w, &wp)
	default:
		return wp, fmt.Errorf("kind: unknown workload kind %q (one of llm_serving, training, batch_inference, rag, general)", w.GetKind())
	}
	if err != nil {
		return wp, err
	}
	rank(&wp, cons)
	explain(&wp, cons)
	if wp.Recommended < 0 {
		wp.FastestUnpriced = fastestUnpriced(wp.Candidates)
	}
	if again != nil {
		if err := writeWorking(&wp, again, allWorking); err != nil {
			return wp, err
		}
	}
	return wp, nil
}

// writeWorking sizes the candidates a result shows (WorkloadPlan.Shows), or every candidate with all,
// again with their working. Sizing is deterministic, so their figures stay as ranked.
func writeWorking(wp *WorkloadPlan, again sizeAgain, all bool) error {
	for i := range wp.Candidates {
		if !all && !wp.Shows(i) {
			continue
		}
		c, err := again(wp.Candidates[i].offer)
		if err != nil {
			return err
		}
		wp.Candidates[i] = c
	}
	return nil
}

// fastestUnpriced returns the index of the training candidate outside the residency whose model states
// fit a GPU and that finishes first (the first of equals), or -1: its compute, time and memory hold
// wherever it runs, so a plan without a priced region can still say them.
func fastestUnpriced(cs []Candidate) int {
	best := -1
	for i := range cs {
		t := cs[i].Training
		if t == nil || !t.Unpriced || !t.FitsPerGPU {
			continue
		}
		if best < 0 || t.WallClockHours.High < cs[best].Training.WallClockHours.High {
			best = i
		}
	}
	return best
}

// planLLM sizes an LLM serving or batch workload on every offer, without the candidates' working, and
// returns how to size one offer again with it (nil when no offer was sized).
func planLLM(cat *catalog.Catalog, pool []offer, w *inframindv1.Workload, wp *WorkloadPlan, batch bool) (sizeAgain, error) {
	m := resolveModel(cat, w)
	wp.Model = m.name
	if !m.ok {
		wp.Findings = append(wp.Findings, Finding{Severity: SeverityHigh, Workload: wp.Label, Title: "Model of " + wp.Label + " cannot be sized",
			Detail: m.why + "."})
		return nil, nil
	}
	p, assumed := precisionOf(w)
	if assumed {
		addAssumption(&wp.Working, "no precision stated: bf16, the precision open models are published in")
	}
	kv := kvPrecisionOf(w)
	in, out := int(w.GetMeanInputTokens()), int(w.GetMeanOutputTokens())
	if in <= 0 || out <= 0 {
		wp.Findings = append(wp.Findings, Finding{Severity: SeverityMedium, Workload: wp.Label, Title: "Token profile missing for " + wp.Label,
			Detail: "mean_input_tokens and mean_output_tokens are needed to size latency and throughput; without them no replica count or cost can be computed."})
		return nil, nil
	}
	load := servingLoad{in: in, out: out, context: in + out, hours: HoursPerMonth, availability: w.GetAvailabilityTarget()}
	if c := int(w.GetMaxContextTokens()); c > 0 {
		load.context = c
	}
	addAssumption(&wp.Working, "model %s at %s weights, %s KV cache; each replica holds one %d-token sequence at least (%s)", m.name, p, kv, load.context, m.source)
	if batch {
		load.batch = true
		window := w.GetCompletionWindowHours()
		if window <= 0 {
			window = 24
			addAssumption(&wp.Working, "no completion window stated: the day's tokens are spread over 24 h")
		}
		tokensPerDay := w.GetTokensPerDayMillion() * 1e6
		if tokensPerDay <= 0 {
			wp.Findings = append(wp.Findings, Finding{Severity: SeverityMedium, Workload: wp.Label, Title: "No daily volume for " + wp.Label,
				Detail: "tokens_per_day_million is needed to size a batch workload."})
			return nil, nil
		}
		perReq := float64(in + out)
		load.peakRPS = tokensPerDay / (window * 3600) / perReq
		// Machines run only during the window, every day: window x 730/24 hours a month.
		load.hours = window * HoursPerMonth / 24
		load.outputTokensPerMonth = tokensPerDay * float64(out) / perReq * HoursPerMonth / 24
		wp.PeakRPS = load.peakRPS
		addAssumption(&wp.Working, "tokens_per_day counts prompt and completion tokens together; machines run only during the %g-hour window", window)
		addFormula(&wp.Working, "required rate = %.4g tokens/day / (%g h x 3600) / (%d + %d tokens per request) = %.4g requests/s",
			tokensPerDay, window, in, out, load.peakRPS)
		addFormula(&wp.Working, "billed hours = %g h x %g/24 days = %.4g h per month", window, HoursPerMonth, load.hours)
	} else {
		load.peakRPS = w.GetPeakRequestsPerSecond()
		load.avgRPS = w.GetAvgRequestsPerSecond()
		load.headroomLow, load.headroomHigh = HeadroomLow, HeadroomHigh
		load.slo = sizing.SLO{TTFTp95ms: w.GetTtftP95Ms(), ITLms: w.GetInterTokenLatencyMs(), MinTokensPerSecPerUser: w.GetMinTokensPerSecondPerUser()}
		addAssumption(&wp.Working, "headroom %.0f%%-%.0f%% over the stated peak for bursts and rolling deploys (planning assumption)", HeadroomLow*100, HeadroomHigh*100)
		if load.peakRPS <= 0 {
			addAssumption(&wp.Working, "no peak request rate stated: one replica (two with the availability target) is planned")
		}
		if load.avgRPS > 0 {
			load.outputTokensPerMonth = load.avgRPS * float64(out) * 3600 * HoursPerMonth
			addFormula(&wp.Working, "output tokens per month = %.4g requests/s average x %d tokens x 3600 x %g h = %.4g", load.avgRPS, out, HoursPerMonth, load.outputTokensPerMonth)
		} else {
			addAssumption(&wp.Working, "no average request rate stated: cost per token is not computed")
		}
	}
	wp.OutputTokensPerMonth = load.outputTokensPerMonth
	memo := newSizingMemo()
	size := func(c *Candidate, i int, withText bool) error {
		err := servingCandidate(c, m, p, kv, pool[i], load, memo, withText)
		c.offer = i
		return err
	}
	if len(pool) > 0 {
		wp.Candidates = make([]Candidate, len(pool))
	}
	for i := range pool {
		if err := size(&wp.Candidates[i], i, false); err != nil {
			return nil, err
		}
	}
	if !batch {
		bandwidthFloor(wp, m, p, pool, load.slo)
	}
	addStorage(wp, m, p)
	if !batch {
		addNetwork(wp, load)
	}
	return func(i int) (Candidate, error) {
		var c Candidate
		err := size(&c, i, true)
		return c, err
	}, nil
}

// bandwidthFloor checks the inter-token target against the fastest offered machine at perfect
// efficiency: a decode step reads every active weight once, so ITL >= active weight bytes / (GPUs x
// bandwidth) (memory-bound decode; Williams et al., Roofline,
// CACM 2009). A target below that floor is unmet by any hardware in the catalogue, fitted or not.
func bandwidthFloor(wp *WorkloadPlan, m resolvedModel, p sizing.Precision, pool []offer, slo sizing.SLO) {
	target := slo.ITLms
	if slo.MinTokensPerSecPerUser > 0 && (target == 0 || 1000/slo.MinTokensPerSecPerUser < target) {
		target = 1000 / slo.MinTokensPerSecPerUser
	}
	b, err := sizing.BytesPerParam(p)
	if target <= 0 || err != nil || len(pool) == 0 {
		return
	}
	active := m.arch.ParamsActiveB
	if active <= 0 {
		active = m.arch.ParamsTotalB
	}
	best, bestName := 0.0, ""
	for _, o := range pool {
		bw := float64(min(o.inst.GPUCount, sizing.MaxTensorParallel)) * o.gpu.BandwidthTBs
		if bw > best {
			best, bestName = bw, fmt.Sprintf("%s/%s (%d x %.4g TB/s)", o.inst.Provider, o.inst.Name, min(o.inst.GPUCount, sizing.MaxTensorParallel), o.gpu.BandwidthTBs)
		}
	}
	floor := active * b / best // GB / (TB/s) = ms
	if floor <= target {
		return
	}
	wp.Findings = append(wp.Findings, Finding{Severity: SeverityHigh, Workload: wp.Label, Title: "No offered hardware meets the latency target of " + wp.Label,
		Detail: fmt.Sprintf("Each output token reads every active weight once: %.4g B params x %g B = %.4g GB over the most bandwidth offered, %s = %.4g TB/s, takes at least %.3g ms even at 100%% efficiency (memory-bound decode, Roofline), against a %.3g ms target per token. Only a smaller or more quantised model, or a looser target, can meet it.",
			active, b, active*b, bestName, best, floor, target)})
}

// addStorage sizes the object storage for the model weights the replicas load at start.
func addStorage(wp *WorkloadPlan, m resolvedModel, p sizing.Precision) {
	b, err := sizing.BytesPerParam(p)
	if err != nil {
		return
	}
	gbs := m.arch.ParamsTotalB * b
	comp := Component{Key: "model_weights_gb", Kind: "storage", Name: "model weights (object storage)", Size: sizing.NewRange(gbs, gbs), Unit: "GB", Workload: wp.Label}
	addFormula(&comp.Working, "weights = %.4g B params x %g B (%s) = %.4g GB (EleutherAI, Transformer Math 101)", m.arch.ParamsTotalB, b, p, gbs)
	wp.Components = append(wp.Components, comp)
}

// BytesPerToken is the rule of thumb that one token is about four characters of English text
// (OpenAI Help Center, "What are tokens and how to count them?"), one byte each in UTF-8 for ASCII.
const BytesPerToken = 4.0

// addNetwork sizes the load balancer and the response egress of a serving workload.
func addNetwork(wp *WorkloadPlan, load servingLoad) {
	lb := Component{Key: "load_balancer_peak_rps", Kind: "load_balancer", Name: "HTTPS load balancer in front of the replicas", Size: sizing.NewRange(load.peakRPS, load.peakRPS), Unit: "requests/s at peak", Workload: wp.Label}
	addAssumption(&lb.Working, "one regional load balancer spreads requests over the replicas and health-checks them")
	wp.Components = append(wp.Components, lb)
	if load.avgRPS <= 0 {
		return
	}
	gbs := load.avgRPS * float64(load.out) * BytesPerToken * 3600 * HoursPerMonth / 1e9
	eg := Component{Key: "egress_gb_per_month", Kind: "egress", Name: "response egress to users", Size: sizing.NewRange(gbs, gbs), Unit: "GB per month", Workload: wp.Label}
	addFormula(&eg.Working, "egress = %.4g requests/s x %d output tokens x %g bytes/token x 3600 x %g h = %.4g GB per month", load.avgRPS, load.out, BytesPerToken, HoursPerMonth, gbs)
	addAssumption(&eg.Working, "text responses only, %g bytes per token (OpenAI tokenizer rule of thumb); streaming framing and TLS overhead are not counted", BytesPerToken)
	wp.Components = append(wp.Components, eg)
}

// HNSW graph overhead per vector: hnswlib's ALGO_PARAMS.md puts the index memory at roughly M x 8-10
// bytes per stored element, with M = 12-48 fine for most uses and 16 the common default (nmslib/hnswlib
// ALGO_PARAMS.md). The range takes M 16 at 8 bytes and M 48 at 10 bytes.
const (
	hnswOverheadLowBytes  = 16 * 8
	hnswOverheadHighBytes = 48 * 10
	// float32Bytes is one embedding element stored as float32.
	float32Bytes = 4
)

// planVectorStore sizes a RAG workload's vector store: vectors x dims x 4 bytes plus the HNSW graph.
func planVectorStore(w *inframindv1.Workload, wp *WorkloadPlan) {
	dims := float64(w.GetEmbeddingDimensions())
	comp := Component{Key: "vector_store_gb", Kind: "vector_store", Name: "vector store (HNSW index in memory)", Unit: "GB", Workload: wp.Label}
	vectors := float64(w.GetVectorCount())
	if vectors > 0 {
		addFormula(&comp.Working, "vectors = %.0f as stated", vectors)
	} else if corpus, chunk := w.GetCorpusGb(), float64(w.GetChunkTokens()); corpus > 0 && chunk > 0 {
		vectors = math.Ceil(corpus * 1e9 / BytesPerToken / chunk)
		addFormula(&comp.Working, "vectors = %.4g GB x 1e9 / %g bytes per token / %g tokens per chunk = %.4g", corpus, BytesPerToken, chunk, vectors)
		addAssumption(&comp.Working, "the corpus is plain text at about %g bytes per token (OpenAI tokenizer rule of thumb); chunks do not overlap", BytesPerToken)
	}
	if vectors <= 0 || dims <= 0 {
		wp.Findings = append(wp.Findings, Finding{Severity: SeverityLow, Workload: wp.Label, Title: "Vector store not sized for " + wp.Label,
			Detail: "Sizing the vector store needs embedding_dimensions and either vector_count or corpus_gb with chunk_tokens."})
		return
	}
	raw := vectors * dims * float32Bytes / 1e9
	comp.Size = sizing.NewRange(raw+vectors*hnswOverheadLowBytes/1e9, raw+vectors*hnswOverheadHighBytes/1e9)
	addFormula(&comp.Working, "embeddings = %.4g vectors x %g dims x 4 bytes (float32) = %.4g GB", vectors, dims, raw)
	addFormula(&comp.Working, "HNSW graph = %.4g vectors x %d-%d bytes (M 16-48 x 8-10 bytes, nmslib/hnswlib ALGO_PARAMS.md) => store %s GB in memory",
		vectors, hnswOverheadLowBytes, hnswOverheadHighBytes, comp.Size)
	if q := w.GetQueriesPerSecond(); q > 0 {
		addAssumption(&comp.Working, "%g queries/s at peak against the index", q)
	}
	wp.Components = append(wp.Components, comp)
	if s := w.GetStorageGb(); s > 0 || w.GetCorpusGb() > 0 {
		size := math.Max(s, w.GetCorpusGb())
		st := Component{Key: "document_storage_gb", Kind: "storage", Name: "document store (source corpus and chunks)", Size: sizing.NewRange(size, size), Unit: "GB", Workload: wp.Label}
		addFormula(&st.Working, "document storage = max(storage_gb %g, corpus_gb %g) = %g GB", s, w.GetCorpusGb(), size)
		wp.Components = append(wp.Components, st)
	}
}

// planGeneral sizes a general service: instances from the peak rate and the per-instance rate.
func planGeneral(w *inframindv1.Workload, wp *WorkloadPlan) {
	peak := w.GetPeakRequestsPerSecond()
	per := sizing.NewRange(w.GetRequestsPerSecondPerInstance(), w.GetRequestsPerSecondPerInstance())
	measured := per.Low > 0
	if !measured {
		// No measurement: a planning range of 10-100 requests/s per instance, an assumption the
		// user must replace with a load test of the service (no published figure applies to an
		// arbitrary service).
		per = sizing.NewRange(10, 100)
		wp.Findings = append(wp.Findings, Finding{Severity: SeverityMedium, Workload: wp.Label, Title: "Load test needed for " + wp.Label,
			Detail: "requests_per_second_per_instance is not given, so the instance count assumes 10-100 requests/s per instance; a load test of one instance replaces this assumption."})
	}
	if peak <= 0 {
		wp.Findings = append(wp.Findings, Finding{Severity: SeverityLow, Workload: wp.Label, Title: "No peak rate for " + wp.Label,
			Detail: "peak_requests_per_second is needed to size a general service."})
		return
	}
	lo := int(math.Ceil(peak*(1+HeadroomLow)/per.High - 1e-9))
	hi := int(math.Ceil(peak*(1+HeadroomHigh)/per.Low - 1e-9))
	if w.GetAvailabilityTarget() >= HAAvailability {
		lo, hi = max(lo, 2), max(hi, 2)
	}
	wp.Instances = IntRange{Low: max(lo, 1), High: max(hi, 1)}
	addFormula(&wp.Working, "instances = ceil(%g requests/s x (1 + %.0f%%-%.0f%%) / %s requests/s per instance) = %s (at least 2 from availability %g >= %.2f)",
		peak, HeadroomLow*100, HeadroomHigh*100, per, ints(wp.Instances), w.GetAvailabilityTarget(), HAAvailability)
	if measured {
		addAssumption(&wp.Working, "%g requests/s per instance from the user's load test", per.Low)
	}
	addAssumption(&wp.Working, "%g vCPU / %g GB per instance as stated; priced on the general-purpose CPU machines that have at least that much", w.GetVcpu(), w.GetMemoryGb())
	if s := w.GetStorageGb(); s > 0 {
		st := Component{Key: "block_storage_gb", Kind: "storage", Name: "block storage", Size: sizing.NewRange(s, s), Unit: "GB", Workload: wp.Label}
		addFormula(&st.Working, "storage = %g GB as stated, %d IOPS sustained", s, w.GetStorageIops())
		wp.Components = append(wp.Components, st)
	}
	lb := Component{Key: "load_balancer_peak_rps", Kind: "load_balancer", Name: "HTTPS load balancer", Size: sizing.NewRange(peak, peak), Unit: "requests/s at peak", Workload: wp.Label}
	addAssumption(&lb.Working, "one regional load balancer in front of %s", span.Count(wp.Instances.Low, wp.Instances.High, "instance", "instances"))
	wp.Components = append(wp.Components, lb)
}

// priceGeneral prices a sized general service on every CPU machine in scope: the instance count
// planGeneral found times the machine's hourly price. A machine with fewer vCPUs or less memory than
// the stated per-instance size is infeasible, so the cheapest feasible machine is the smallest one
// that holds the service (per-instance throughput was measured or assumed at the stated size). The
// candidates come without their working; it returns how to price one machine again with it (nil when
// none was priced).
func priceGeneral(cpus []offer, w *inframindv1.Workload, wp *WorkloadPlan) sizeAgain {
	if wp.Instances.High == 0 {
		return nil
	}
	vcpu, mem := w.GetVcpu(), w.GetMemoryGb()
	var ranges rangeSlab
	// size writes the candidate in place: a candidate is large, and a plan prices hundreds of machines.
	size := func(c *Candidate, i int, withText bool) {
		o := cpus[i]
		in := o.inst
		*c = Candidate{Provider: in.Provider, Instance: in.Name, Region: o.region, Instances: wp.Instances, Feasible: true,
			Source: o.source, offer: i}
		switch {
		case o.blocked != "":
			c.Feasible, c.Reason = false, o.blocked
		case float64(in.VCPU) < vcpu || in.MemoryGB < mem:
			c.Feasible, c.Reason = false, fmt.Sprintf("has %d vCPU / %g GB, below the %g vCPU / %g GB per instance stated", in.VCPU, in.MemoryGB, vcpu, mem)
		default:
			if withText {
				addFormula(&c.Working, "%s has %d vCPU / %g GB >= %g vCPU / %g GB per instance", in.Name, in.VCPU, in.MemoryGB, vcpu, mem)
			}
			price(c, o, HoursPerMonth, withText, &ranges)
		}
	}
	if len(cpus) > 0 {
		wp.Candidates = make([]Candidate, len(cpus))
	}
	for i := range cpus {
		size(&wp.Candidates[i], i, false)
	}
	return func(i int) (Candidate, error) {
		var c Candidate
		size(&c, i, true)
		return c, nil
	}
}

// planTraining sizes a training job on every offer: the fewest GPUs the method fits on (rounded up to
// whole instances, or the preferred count), GPU-hours, wall clock, the deadline and the one-off cost.
// The candidates come without their working; it returns how to size one offer again with it (nil when
// no offer was sized).
func planTraining(cat *catalog.Catalog, pool []offer, w *inframindv1.Workload, wp *WorkloadPlan) (sizeAgain, error) {
	m := resolveModel(cat, w)
	wp.Model = m.name
	if !m.ok {
		wp.Findings = append(wp.Findings, Finding{Severity: SeverityHigh, Workload: wp.Label, Title: "Model of " + wp.Label + " cannot be sized", Detail: m.why + "."})
		return nil, nil
	}
	tokens := assessment.TrainingTokensBillion(w)
	if tokens <= 0 {
		wp.Findings = append(wp.Findings, Finding{Severity: SeverityMedium, Workload: wp.Label, Title: "Training tokens missing for " + wp.Label,
			Detail: "training_tokens_billion (or dataset_tokens_billion with epochs) is needed to estimate compute, time and cost."})
		return nil, nil
	}
	job := trainingJob{m: m, tokens: tokens, method: norm(w.GetMethod()), seq: int(w.GetMaxContextTokens()), pref: int(w.GetPreferredGpuCount())}
	if job.method == "" {
		job.method = sizing.MethodFull
		addAssumption(&wp.Working, "no method stated: full fine-tuning")
	}
	var assumed bool
	job.p, assumed = precisionOf(w)
	if assumed {
		addAssumption(&wp.Working, "no precision stated: bf16 mixed precision")
	}
	job.deadlineH = float64(w.GetDeadlineDays()) * 24
	addFormula(&wp.Working, "tokens = %.4g B (training_tokens_billion, or dataset_tokens_billion x epochs)", tokens)
	if job.seq > 0 {
		addAssumption(&wp.Working, "activations sized at max_context_tokens = %d tokens per training sequence", job.seq)
	}
	if cm, ok := cat.Model(w.GetModel()); ok && w.GetArchitecture() == nil {
		job.heads = cm.Heads
	}
	memo := newSizingMemo()
	size := func(i int, withText bool) (Candidate, error) {
		c, err := trainingCandidate(job, pool[i], memo, withText)
		c.offer = i
		return c, err
	}
	if len(pool) > 0 {
		wp.Candidates = make([]Candidate, 0, len(pool))
	}
	for i := range pool {
		c, err := size(i, false)
		if err != nil {
			return nil, err
		}
		wp.Candidates = append(wp.Candidates, c)
	}
	addStorage(wp, m, job.p)
	return func(i int) (Candidate, error) { return size(i, true) }, nil
}

// trainingJob is what a training workload asks of every offer.
type trainingJob struct {
	m      resolvedModel
	tokens float64
	method string
	p      sizing.Precision
	// deadlineH is 0 without a deadline.
	deadlineH float64
	// seq is the stated sequence length, heads the catalogue model's attention heads, pref the preferred
	// GPU count; 0 when not known.
	seq, heads, pref int
}

// trainingShape is a training job's estimate on one machine shape (GPU model and count): the fewest GPUs
// its method fits on and the GPUs it is planned on, which do not depend on the machine's price or region.
type trainingShape struct {
	est        sizing.TrainingEstimate
	need, gpus int
}

type memoTraining struct {
	shape trainingShape
	err   error
}

// training returns the job's estimate on the offer's machine shape, computing it on first use: without
// its working, or, withText, with it (kept apart, for the few candidates a result shows). The returned
// Working shares its slices with later calls: callers only read it.
func (m *sizingMemo) training(o offer, withText bool, compute func() (trainingShape, error)) (trainingShape, error) {
	memo := m.trainings
	if withText {
		memo = m.trainingsWithText
	}
	k := fitKey{o.gpu.ID, o.inst.GPUCount}
	r, ok := memo[k]
	if !ok {
		r.shape, r.err = compute()
		memo[k] = r
	}
	return r.shape, r.err
}

// trainingCandidate sizes the job on one offer; withText also writes the working (the figures are the
// same without it).
func trainingCandidate(job trainingJob, o offer, memo *sizingMemo, withText bool) (Candidate, error) {
	c := baseCandidate(o)
	p, method := job.p, job.method
	if ok, why := supports(*o.gpu, p); !ok {
		c.Reason = why
		if o.blocked != "" {
			c.Reason = o.blocked
		}
		return c, nil
	}
	per := o.inst.GPUCount
	// The figures are the same with and without the working's text; only the candidates a result shows
	// write it.
	estimate := sizing.EstimateTrainingFigures
	if withText {
		estimate = sizing.EstimateTraining
	}
	sh, err := memo.training(o, withText, func() (trainingShape, error) {
		tp := p
		if p == sizing.BF16 && o.gpu.BF16TFLOPS <= 0 {
			tp = sizing.FP16 // T4/V100 train in FP16
		}
		if p == sizing.INT8 || p == sizing.INT4 {
			tp = sizing.BF16 // adapters over a quantised base compute in 16-bit
		}
		in := sizing.TrainingInput{Arch: job.m.arch, TokensB: job.tokens, Method: method, Precision: tp, GPU: AcceleratorFromGPU(*o.gpu),
			GPUs: per, Heads: job.heads, SeqTokens: job.seq, GPUsPerNode: per}
		est, err := estimate(in)
		if err != nil {
			return trainingShape{}, fmt.Errorf("training estimate on %s: %w", o.inst.Name, err)
		}
		// The fewest GPUs a method fits on does not depend on the count the estimate was made at: use at
		// least that many, in whole instances, unless the user prefers a count.
		need := est.Chosen.MinGPUs
		gpus := per
		if need > per {
			gpus = ceilDiv(need, per) * per
		}
		if job.pref > 0 {
			gpus = job.pref
		}
		if gpus != per {
			in.GPUs = gpus
			if est, err = estimate(in); err != nil {
				return trainingShape{}, fmt.Errorf("training estimate on %s: %w", o.inst.Name, err)
			}
		}
		return trainingShape{est: est, need: need, gpus: gpus}, nil
	})
	if err != nil {
		return c, err
	}
	est, need, gpus := sh.est, sh.need, sh.gpus
	ch := est.Chosen
	// Multi-machine training is planned only on 8-GPU NVLink (SXM) machines, the HGX-class instances
	// clouds pair with an RDMA fabric (AWS p4d/p5 with EFA, Azure ND with InfiniBand, GCP a2/a3 with
	// GPUDirect); the MFU range does not hold for sharded or pipelined training over ordinary
	// networking between smaller machines. A planning rule: the catalogue records no network.
	multiMachine := per >= sizing.MaxTensorParallel && strings.Contains(o.gpu.Interconnect, "SXM")
	c.Instances = IntRange{Low: ceilDiv(gpus, per), High: ceilDiv(gpus, per)}
	c.GPUs = IntRange{Low: gpus, High: gpus}
	if withText {
		merge(&c.Working, est.Working)
		switch {
		case job.pref > 0:
			addFormula(&c.Working, "GPUs = preferred_gpu_count %d (%s fits from %d GPUs of %s)", job.pref, method, need, o.gpu.Name)
		case need > 0:
			addFormula(&c.Working, "GPUs = max(%d per instance, %d that %s fits on rounded up to whole instances) = %d on %d instances", per, need, method, gpus, c.Instances.High)
		}
		if c.Instances.High > 1 {
			addAssumption(&c.Working, "the run spans %d machines: the MFU range assumes a fast interconnect between them (InfiniBand, EFA or similar); the catalogue records none", c.Instances.High)
		}
	}
	perGPUHour := o.inst.OnDemandHourly / float64(per)
	tr := &TrainingResult{GPUs: gpus, GPUHours: est.GPUHours, WallClockHours: est.WallClockHours, DeadlineHours: job.deadlineH,
		CostUSD: est.Cost(perGPUHour), Strategy: ch.Strategy, MemoryPerGPUGB: ch.StatesGB, FitsPerGPU: ch.Fits}
	// A partly used last machine is billed whole: cost covers instances x GPUs per instance.
	billed := float64(c.Instances.High*per) / float64(gpus)
	tr.CostUSD = tr.CostUSD.Scale(billed)
	if withText {
		addFormula(&c.Working, "cost = %s GPU-hours x $%g/h / %d GPUs per instance x %.3g (billed GPUs / used GPUs) = %s one-off",
			est.GPUHours, o.inst.OnDemandHourly, per, billed, dollars(tr.CostUSD))
	}
	c.Training = tr
	deadlineH, pref := job.deadlineH, job.pref
	switch {
	case o.blocked != "":
		// Outside the residency: the compute, time and memory still hold
		// (they do not depend on the region), the price does not.
		c.Reason = o.blocked
		tr.CostUSD = sizing.Range{}
		tr.Unpriced = true
		tr.MeetsDeadline = deadlineStatus(est.WallClockHours, deadlineH)
	case need == 0:
		c.Reason = fmt.Sprintf("%s fits no layout on %s up to %d GPUs: at %d tokens per sequence the activations and gathered layers (%s GB per GPU, %s) leave no room in the %.4g GB usable; a shorter sequence, a smaller model or a GPU with more memory may",
			method, o.gpu.Name, sizing.MaxTrainingGPUs, est.SeqTokens, ch.ActivationsGB, ch.Description, ch.UsableGB)
	case c.Instances.High > 1 && !multiMachine:
		why := fmt.Sprintf("%s needs %d GPUs of %s (%s at %s GB per GPU)", method, need, o.gpu.Name, ch.Strategy, ch.MemoryAtMinGB)
		if pref > 0 {
			why = fmt.Sprintf("preferred_gpu_count %d", pref)
		}
		c.Reason = fmt.Sprintf("%s spans %d %s machines of %d GPUs; multi-machine training is planned only on 8-GPU NVLink machines with an RDMA fabric",
			why, c.Instances.High, o.inst.Name, per)
	case pref > 0 && pref < need:
		c.Reason = fmt.Sprintf("preferred_gpu_count %d is below the %d GPUs %s needs on %s (%s at %s GB per GPU of %.4g GB usable)",
			pref, need, method, o.gpu.Name, ch.Strategy, ch.MemoryAtMinGB, ch.UsableGB)
	case !ch.Fits:
		c.Reason = fmt.Sprintf("%s needs %s GB per GPU (states %.4g + activations %s), more than the %.4g GB usable of %s",
			ch.Description, ch.MemoryPerGPUGB, ch.StatesGB, ch.ActivationsGB, ch.UsableGB, o.gpu.Name)
	case deadlineH > 0 && est.WallClockHours.Low > deadlineH:
		c.Reason = fmt.Sprintf("takes %s h on %d GPUs, beyond the %g-hour deadline even at the optimistic end", est.WallClockHours, gpus, deadlineH)
		tr.MeetsDeadline = "no"
	default:
		c.Feasible = true
		if deadlineH > 0 {
			tr.MeetsDeadline = "yes"
			if est.WallClockHours.High > deadlineH {
				tr.MeetsDeadline = "maybe"
			}
		}
	}
	return c, nil
}

// ceilDiv is ceil(a / b) for positive integers.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// costKey is what a candidate is ranked by: the pessimistic monthly on-demand cost, or the pessimistic
// one-off cost for a training job.
func costKey(c *Candidate) float64 {
	if c.Training != nil {
		return c.Training.CostUSD.High
	}
	return c.Monthly.OnDemand.High
}

// costKeyLow breaks ties on the optimistic end.
func costKeyLow(c *Candidate) float64 {
	if c.Training != nil {
		return c.Training.CostUSD.Low
	}
	return c.Monthly.OnDemand.Low
}

// rank orders the candidates (feasible first, then by pessimistic cost, then provider order and name)
// and picks the recommended candidate and the cheapest per provider.
func rank(wp *WorkloadPlan, cons Constraints) {
	// Sorted by index over each candidate's keys, worked out once, then moved once, in place: a
	// candidate is large, and a stable sort moves each many times.
	cs := wp.Candidates
	type key struct {
		feasible      bool
		memory        float64 // infeasible: the GPU memory of a machine
		cost, costLow float64 // feasible
		provider      int
		instance      string
	}
	keys := make([]key, len(cs))
	byRank := make([]int, len(cs))
	for i := range cs {
		c := &cs[i]
		k := key{feasible: c.Feasible, provider: slices.Index(cons.Providers, c.Provider), instance: c.Instance}
		if c.Feasible {
			k.cost, k.costLow = costKey(c), costKeyLow(c)
		} else {
			k.memory = c.GPUMemoryGB * float64(c.GPUsPerInstance)
		}
		keys[i], byRank[i] = k, i
	}
	// The candidates come planned over the offers, which are in provider then instance order: then
	// provider, instance and index order them as the index alone does, and the comparison skips the
	// names. The check keeps the full comparison for candidates in any other order.
	byIndex := true
	for i := 1; i < len(keys) && byIndex; i++ {
		a, b := &keys[i-1], &keys[i]
		byIndex = a.provider < b.provider || (a.provider == b.provider && a.instance <= b.instance)
	}
	// Equal keys keep their order by the index, the last key: the same order a stable sort gives, from
	// an unstable one, which does fewer comparisons than a stable sort's merges. Each key is compared
	// only when the ones before it tie.
	slices.SortFunc(byRank, func(i, j int) int {
		a, b := &keys[i], &keys[j]
		if a.feasible != b.feasible {
			if a.feasible {
				return -1
			}
			return 1
		}
		var c int
		if a.feasible {
			if c = cmp.Compare(a.cost, b.cost); c == 0 {
				c = cmp.Compare(a.costLow, b.costLow)
			}
		} else {
			// Infeasible: the machines with the most GPU memory first, as the nearest misses.
			c = cmp.Compare(b.memory, a.memory)
		}
		if c != 0 {
			return c
		}
		if !byIndex {
			if c = cmp.Compare(a.provider, b.provider); c != 0 {
				return c
			}
			if c = strings.Compare(a.instance, b.instance); c != 0 {
				return c
			}
		}
		return cmp.Compare(i, j)
	})
	permute(cs, byRank)
	wp.CheapestPerProvider = nil
	for _, p := range cons.Providers {
		for i := range wp.Candidates {
			if c := &wp.Candidates[i]; c.Feasible && c.Provider == p {
				wp.CheapestPerProvider = append(wp.CheapestPerProvider, ProviderBest{Provider: p, Index: i})
				break
			}
		}
	}
	wp.Recommended = -1
	// The cheapest feasible candidate wins, looked for first on a preferred provider in a region
	// where the users are (business.regions), then on a preferred provider anywhere, then in the
	// users' regions on any provider, then anywhere. With one row per instance type and region, the
	// cheapest region overall may sit on another continent from the users.
	tiers := []func(*Candidate) bool{
		func(c *Candidate) bool {
			return slices.Contains(cons.Preferred, c.Provider) && cons.nearUsers(c.Provider, c.Region)
		},
		func(c *Candidate) bool { return slices.Contains(cons.Preferred, c.Provider) },
		func(c *Candidate) bool { return cons.nearUsers(c.Provider, c.Region) },
		func(*Candidate) bool { return true },
	}
	for _, ok := range tiers {
		for i := range wp.Candidates {
			if c := &wp.Candidates[i]; c.Feasible && ok(c) {
				wp.Recommended = i
				return
			}
		}
	}
}

// permute reorders cs so that its k-th element is the one at from[k], moving each element once (a cycle
// at a time); from is used up.
func permute[T any](cs []T, from []int) {
	for start := range from {
		if from[start] < 0 {
			continue
		}
		held := cs[start]
		k := start
		for from[k] != start {
			next := from[k]
			cs[k] = cs[next]
			from[k] = -1
			k = next
		}
		cs[k] = held
		from[k] = -1
	}
}

// deadlineStatus is "yes" when even the pessimistic wall clock meets the
// deadline, "maybe" when only the optimistic one does, "no" otherwise, and ""
// without a deadline.
func deadlineStatus(wall sizing.Range, deadlineH float64) string {
	switch {
	case deadlineH <= 0:
		return ""
	case wall.High <= deadlineH:
		return "yes"
	case wall.Low <= deadlineH:
		return "maybe"
	default:
		return "no"
	}
}
