package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/gateway"
)

const estimateUsage = `Usage:
  infra-mind estimate inference --model ID --precision fp8 --gpu ID --input-tokens N --output-tokens N [flags]
  infra-mind estimate training  --model ID --method lora --gpu ID --gpus N --tokens-billion B [flags]

Run "infra-mind estimate inference -h" or "infra-mind estimate training -h" for the flags.
`

// runEstimate calls the gateway's stateless calculators and prints a summary.
func runEstimate(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 {
		fmt.Fprint(io.Stderr, estimateUsage)
		return usageError{errors.New("say what to estimate: inference or training")}
	}
	switch args[0] {
	case "inference":
		return runEstimateInference(ctx, args[1:], io)
	case "training":
		return runEstimateTraining(ctx, args[1:], io)
	case "-h", "--help", "help":
		fmt.Fprint(io.Stdout, estimateUsage)
		return nil
	default:
		return usageError{fmt.Errorf("unknown estimate %q: use inference or training", args[0])}
	}
}

// gatewayFlags are the flags every estimate shares.
type gatewayFlags struct {
	url, file *string
	token     *secretFlag
	json      *bool
}

func addGatewayFlags(fs *flag.FlagSet, io IO) gatewayFlags {
	return gatewayFlags{
		url:   fs.String("url", envOr(io.Env, "IM_GATEWAY_URL", "http://127.0.0.1:8080"), "gateway URL"),
		token: tokenFlag(fs, io.Env),
		file:  fs.String("f", "", "send this JSON request body instead of one built from the flags"),
		json:  fs.Bool("json", false, "print the gateway's JSON answer instead of a summary"),
	}
}

// finiteFloat is a number flag that refuses NaN and the infinities when the
// command line is parsed, naming the flag: JSON cannot carry them, and no
// figure of an estimate is infinite.
type finiteFloat float64

// String prints the value for flag's usage output.
func (f *finiteFloat) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }

// Set parses the value given on the command line.
func (f *finiteFloat) Set(s string) error {
	v, err := parseFinite(s)
	if err != nil {
		return err
	}
	*f = finiteFloat(v)
	return nil
}

// parseFinite reads a finite number; flag prefixes its error with the flag.
func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, errors.New("is too large: give a finite number")
	case err != nil:
		return 0, errors.New("is not a number")
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, errors.New("must be a finite number, not NaN or infinity")
	}
	return v, nil
}

func floatFlag(fs *flag.FlagSet, name, usage string) *finiteFloat {
	f := new(finiteFloat)
	fs.Var(f, name, usage)
	return f
}

// request is an estimate request built from the flags. A flag the user set
// is sent as given, 0 and "" included, so the gateway's rules judge it: 0 is
// a value, not "absent". A flag left alone is left out, so the gateway's
// default applies. It remembers which flag fills which field, so a refusal
// names the flag.
type request struct {
	set    map[string]bool
	body   map[string]any
	flagOf map[string]string // request field ("slo.ttft_p95_ms") -> "--ttft-ms"
}

// newRequest starts a request from the flags fs parsed.
func newRequest(fs *flag.FlagSet) *request {
	r := &request{set: map[string]bool{}, body: map[string]any{}, flagOf: map[string]string{}}
	fs.Visit(func(f *flag.Flag) { r.set[f.Name] = true })
	return r
}

// put sends v as field (a dotted path) when the flag was set.
func (r *request) put(flagName, field string, v any) {
	r.flagOf[field] = "--" + flagName
	if r.set[flagName] {
		r.always(field, v)
	}
}

// always sends v as field whether or not its flag was set: a flag whose
// default the request needs (--precision).
func (r *request) always(field string, v any) {
	m := r.body
	parts := strings.Split(field, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
}

// instance parses --instance "provider/name" into the request's instance.
func (r *request) instance(v string) error {
	r.flagOf["instance"], r.flagOf["instance.provider"], r.flagOf["instance.name"] = "--instance", "--instance", "--instance"
	if !r.set["instance"] {
		return nil
	}
	provider, name, ok := strings.Cut(v, "/")
	if !ok || provider == "" || name == "" {
		return usageError{fmt.Errorf("--instance %q: write provider/name, like aws/p5.48xlarge", v)}
	}
	r.always("instance", map[string]string{"provider": provider, "name": name})
	return nil
}

// mfu parses --mfu "low-high" into the request's mfu range.
func (r *request) mfu(v string) error {
	r.flagOf["mfu"], r.flagOf["mfu.low"], r.flagOf["mfu.high"] = "--mfu", "--mfu", "--mfu"
	if !r.set["mfu"] {
		return nil
	}
	low, high, err := parseRange(v)
	if err != nil {
		return usageError{fmt.Errorf("--mfu %q: %w; write low-high, like 0.3-0.4", v, err)}
	}
	r.always("mfu", map[string]float64{"low": low, "high": high})
	return nil
}

// parseRange reads "low-high". The separating '-' is the first one that
// neither starts the text nor follows an exponent's e, so 1e-2-0.5 reads as
// 0.01 and 0.5.
func parseRange(s string) (float64, float64, error) {
	for i := 1; i < len(s); i++ {
		if s[i] != '-' || s[i-1] == 'e' || s[i-1] == 'E' {
			continue
		}
		low, err := parseFinite(s[:i])
		if err != nil {
			return 0, 0, fmt.Errorf("low %w", err)
		}
		high, err := parseFinite(s[i+1:])
		if err != nil {
			return 0, 0, fmt.Errorf("high %w", err)
		}
		return low, high, nil
	}
	return 0, 0, errors.New("no '-' between low and high")
}

// requestBody returns the -f file when given (then no body flag may be set),
// or the body built from the flags, with the flag behind each field (nil for
// a file, whose fields are named as they are).
func requestBody(fs *flag.FlagSet, g gatewayFlags, r *request) ([]byte, map[string]string, error) {
	if *g.file == "" {
		out, err := json.Marshal(r.body)
		if err != nil {
			return nil, nil, fmt.Errorf("encode request: %w", err)
		}
		return out, r.flagOf, nil
	}
	var clash []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "f", "url", "token", "json":
		default:
			clash = append(clash, "--"+f.Name)
		}
	})
	if len(clash) > 0 {
		return nil, nil, usageError{fmt.Errorf("-f sends the file as it is; drop %s", strings.Join(clash, ", "))}
	}
	out, err := os.ReadFile(*g.file)
	if err != nil {
		return nil, nil, fmt.Errorf("read request: %w", err)
	}
	return out, nil, nil
}

// estimateCall is one estimate: its kind, the body, the flag behind each
// field, and how to send it and summarise the answer A (the document's
// InferenceEstimate or TrainingEstimate).
type estimateCall[A any] struct {
	kind      string // inference or training
	body      []byte
	flagOf    map[string]string
	send      func(*client.Client, context.Context, []byte) (A, error)
	summarise func(io.Writer, A)
	verdict   func(A) (feasible bool, reason string)
}

// errNotFeasible is a plan the gateway sized and found impossible: the
// answer is printed, and the command exits 1 so a script can tell.
type errNotFeasible struct{ reason string }

func (e errNotFeasible) Error() string { return "not feasible: " + e.reason }

// call checks the body with the gateway's own rules (a mistake is a usage
// error naming the flag), sends it and prints the answer: as indented JSON
// with --json, otherwise through summarise. A not-feasible answer is printed
// in full and returned as errNotFeasible.
func call[A any](ctx context.Context, g gatewayFlags, ec estimateCall[A], w io.Writer) error {
	if g.token.v == "" {
		return usageError{errors.New("no token: pass --token or set IM_TOKEN")}
	}
	fes, err := gateway.CheckEstimateRequest(ec.kind, ec.body)
	if err != nil {
		return err
	}
	if len(fes) > 0 {
		return usageError{refusal(fes, ec.flagOf)}
	}
	c, err := client.New(*g.url, g.token.v, nil)
	if err != nil {
		return usageError{err}
	}
	ans, err := ec.send(c, ctx, ec.body)
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	if *g.json {
		out, err := json.MarshalIndent(ans, "", "  ")
		if err != nil {
			return fmt.Errorf("format the answer: %w", err)
		}
		if _, err := w.Write(append(out, '\n')); err != nil {
			return err
		}
	} else {
		ec.summarise(w, ans)
	}
	if feasible, reason := ec.verdict(ans); !feasible {
		return errNotFeasible{reason: reason}
	}
	return nil
}

// refusal lists the request's mistakes, each under the flag that set the
// field (or the field's name for a -f file).
func refusal(fes []assessment.FieldError, flagOf map[string]string) error {
	var b strings.Builder
	b.WriteString("the gateway would refuse this request:")
	for _, fe := range fes {
		name := fe.Field
		if f, ok := flagOf[fe.Field]; ok {
			name = f
		} else if name == "" {
			name = "request"
		}
		fmt.Fprintf(&b, "\n  %s: %s", name, fe.Reason)
	}
	return errors.New(b.String())
}

func runEstimateInference(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("estimate inference", io)
	g := addGatewayFlags(fs, io)
	model := fs.String("model", "", "catalogue model id, e.g. llama-3.1-70b")
	precision := fs.String("precision", "bf16", "weight precision: bf16, fp16, fp8, int8 or int4")
	kv := fs.String("kv-precision", "", "KV cache precision (default 16-bit)")
	gpu := fs.String("gpu", "", "catalogue GPU id, e.g. h100-sxm (costs for every instance with it)")
	inst := fs.String("instance", "", "catalogue instance as provider/name, e.g. aws/p5.48xlarge (instead of --gpu)")
	tp := fs.Int("tp", 0, "tensor-parallel degree (default: every degree that fits is sized and the cheapest meeting the targets chosen)")
	in := fs.Int("input-tokens", 0, "mean prompt tokens")
	out := fs.Int("output-tokens", 0, "mean completion tokens")
	conc := fs.Int("concurrency", 0, "requests in flight per replica (default 1 without an SLO)")
	ttft := floatFlag(fs, "ttft-ms", "SLO: 95th-percentile time to first token, in `ms`")
	itl := floatFlag(fs, "itl-ms", "SLO: inter-token latency, in `ms`")
	tps := floatFlag(fs, "min-tps", "SLO: slowest per-user speed, in `tokens/s`")
	peak := floatFlag(fs, "peak-rps", "peak `requests/s` to size replicas for")
	headroom := floatFlag(fs, "headroom", "spare capacity above the peak, as a `fraction` (0.2 = 20%)")
	if err := parse(fs, args); err != nil {
		return err
	}
	r := newRequest(fs)
	r.put("model", "model", *model)
	r.flagOf["precision"] = "--precision"
	r.always("precision", *precision)
	r.put("kv-precision", "kv_cache_precision", *kv)
	r.put("gpu", "gpu", *gpu)
	if err := r.instance(*inst); err != nil {
		return err
	}
	r.put("tp", "tensor_parallel", *tp)
	r.put("input-tokens", "input_tokens", *in)
	r.put("output-tokens", "output_tokens", *out)
	r.put("concurrency", "concurrency", *conc)
	r.put("ttft-ms", "slo.ttft_p95_ms", float64(*ttft))
	r.put("itl-ms", "slo.inter_token_latency_ms", float64(*itl))
	r.put("min-tps", "slo.min_tokens_per_second_per_user", float64(*tps))
	r.put("peak-rps", "peak_requests_per_second", float64(*peak))
	r.put("headroom", "headroom", float64(*headroom))
	body, flagOf, err := requestBody(fs, g, r)
	if err != nil {
		return err
	}
	return call(ctx, g, estimateCall[api.InferenceEstimate]{kind: "inference", body: body, flagOf: flagOf,
		send: (*client.Client).EstimateInference, summarise: summariseInference, verdict: inferenceVerdict}, io.Stdout)
}

func runEstimateTraining(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("estimate training", io)
	g := addGatewayFlags(fs, io)
	model := fs.String("model", "", "catalogue model id, e.g. llama-3.1-8b")
	method := fs.String("method", "", "full, lora or qlora")
	precision := fs.String("precision", "bf16", "compute precision: bf16, fp16 or fp8")
	gpu := fs.String("gpu", "", "catalogue GPU id, e.g. h100-sxm (costs for every instance with it)")
	inst := fs.String("instance", "", "catalogue instance as provider/name, e.g. aws/p5.48xlarge (instead of --gpu)")
	gpus := fs.Int("gpus", 0, "GPUs the run uses (default with --instance: its GPU count)")
	tokens := floatFlag(fs, "tokens-billion", "training tokens, in `billions`")
	dataset := floatFlag(fs, "dataset-tokens-billion", "dataset tokens, in `billions` (with --epochs, instead of --tokens-billion)")
	epochs := floatFlag(fs, "epochs", "passes over the dataset, a `number` such as 2 or 1.5")
	mfu := fs.String("mfu", "", "model FLOPs utilisation range low-high, each within 0.01-1, e.g. 0.3-0.4 (default 0.35-0.45)")
	rank := fs.Int("lora-rank", 0, "adapter rank for lora and qlora (default 8)")
	if err := parse(fs, args); err != nil {
		return err
	}
	r := newRequest(fs)
	r.put("model", "model", *model)
	r.put("method", "method", *method)
	r.flagOf["precision"] = "--precision"
	r.always("precision", *precision)
	r.put("gpu", "gpu", *gpu)
	if err := r.instance(*inst); err != nil {
		return err
	}
	r.put("gpus", "gpus", *gpus)
	r.put("tokens-billion", "tokens_billion", float64(*tokens))
	r.put("dataset-tokens-billion", "dataset_tokens_billion", float64(*dataset))
	r.put("epochs", "epochs", float64(*epochs))
	r.put("lora-rank", "lora_rank", *rank)
	if err := r.mfu(*mfu); err != nil {
		return err
	}
	body, flagOf, err := requestBody(fs, g, r)
	if err != nil {
		return err
	}
	return call(ctx, g, estimateCall[api.TrainingEstimate]{kind: "training", body: body, flagOf: flagOf,
		send: (*client.Client).EstimateTraining, summarise: summariseTraining, verdict: trainingVerdict}, io.Stdout)
}

// span is a range of an answer (api.EstimateRange) as the summary prints it.
type span struct {
	Low, High float64
}

// num prints a figure with as many decimals as its size deserves; whole
// numbers (replicas, machines) without any.
func num(v float64) string {
	switch a := max(v, -v); {
	case a >= 1e7:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// money prints US dollars to the cent below 1,000 and to the dollar above.
func money(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// String prints the range with its unit left to the caller.
func (s span) String() string {
	if num(s.Low) == num(s.High) {
		return num(s.Low)
	}
	return num(s.Low) + "-" + num(s.High)
}

// spanOf is an answer's range as a span.
func spanOf(r api.EstimateRange) span { return span{Low: r.Low, High: r.High} }

// rng is an answer's optional range as a span, the zero span when it is absent.
func rng(r *api.EstimateRange) span {
	if r == nil {
		return span{}
	}
	return spanOf(*r)
}

func feasibility(w io.Writer, feasible bool, reason string) {
	if feasible {
		fmt.Fprintln(w, "  feasible")
		return
	}
	fmt.Fprintf(w, "  NOT FEASIBLE: %s\n", reason)
}

func printFooter(w io.Writer, work api.EstimateWorking, cat api.CatalogUse) {
	if len(work.Assumptions) > 0 {
		fmt.Fprintln(w, "  assumptions:")
		for _, a := range work.Assumptions {
			fmt.Fprintf(w, "    - %s\n", a)
		}
	}
	rows := make([]string, 0, len(cat.Rows))
	for _, r := range cat.Rows {
		rows = append(rows, fmt.Sprintf("%s %s (as of %s)", r.Table, r.Key, r.AsOf))
	}
	fmt.Fprintf(w, "  catalogue %s: %s\n", cat.Version, strings.Join(rows, "; "))
	fmt.Fprintln(w, "  (--json shows every formula with its numbers)")
}

// inferenceVerdict reads whether an inference answer is feasible, and why not.
func inferenceVerdict(a api.InferenceEstimate) (bool, string) { return a.Feasible, val(a.Reason) }

// trainingVerdict reads whether a training answer is feasible, and why not.
func trainingVerdict(a api.TrainingEstimate) (bool, string) { return a.Feasible, val(a.Reason) }

func summariseInference(w io.Writer, a api.InferenceEstimate) {
	fmt.Fprintf(w, "%s, %s weights, %s KV cache, on %s; %d input / %d output tokens\n",
		a.Model.Name, a.Precision, a.KVCachePrecision, a.GPU.Name, a.InputTokens, a.OutputTokens)
	feasibility(w, a.Feasible, val(a.Reason))
	if tp := a.TensorParallel; tp > 0 {
		fmt.Fprintf(w, "  tensor parallel: %d GPUs per replica (%s)\n", tp, a.TensorParallelChosen)
	}
	for _, l := range val(a.Layouts) {
		fmt.Fprintf(w, "    TP %d: ", l.TensorParallel)
		switch {
		case !l.Feasible:
			fmt.Fprintf(w, "no: %s\n", val(l.Reason))
		case l.CheapestMonthlyUSDForPeak != nil:
			fmt.Fprintf(w, "%s replicas, $%s a month on %s\n", rng(l.ReplicasForPeak), rng(l.CheapestMonthlyUSDForPeak), val(l.CheapestInstance))
		case l.CheapestUSDPerMillionOutputTokens != nil:
			fmt.Fprintf(w, "$%s per million output tokens on %s\n", rng(l.CheapestUSDPerMillionOutputTokens), val(l.CheapestInstance))
		default:
			fmt.Fprintln(w, "meets the targets (no priced instance)")
		}
	}
	mem := a.Memory
	fmt.Fprintf(w, "  memory per replica: weights %s GB + overhead %s GB; KV cache %s GB holds %d sequences of %d tokens\n",
		num(mem.WeightsGB), num(mem.OverheadGB), num(mem.KVBudgetGB), mem.MaxSequences, a.InputTokens+a.OutputTokens)
	printPoint := func(title string, p *api.ServingPoint) {
		fmt.Fprintf(w, "  %s:\n", title)
		fmt.Fprintf(w, "    time to first token  %s ms (p95 %s ms)\n", spanOf(p.TTFTMs), spanOf(p.TTFTP95Ms))
		fmt.Fprintf(w, "    inter-token latency  %s ms\n", spanOf(p.ITLMs))
		fmt.Fprintf(w, "    per-user speed       %s tokens/s\n", spanOf(p.TokensPerSecPerUser))
		fmt.Fprintf(w, "    replica throughput   %s output tokens/s, %s requests/s\n", spanOf(p.OutputTokensPerSec), spanOf(p.RequestsPerSec))
		if p.Saturated {
			fmt.Fprintf(w, "    saturated: %s\n", val(p.SaturationReason))
		}
		if p.MeetsSLO != nil && !*p.MeetsSLO {
			fmt.Fprintln(w, "    this concurrency misses the SLO: see the capacity below")
		}
	}
	if p := a.AtConcurrency; p != nil {
		printPoint(fmt.Sprintf("at concurrency %d", p.Concurrency), p)
	}
	if c := a.CapacityAtSLO; c != nil {
		if c.Meets && c.AtCapacity != nil {
			printPoint(fmt.Sprintf("capacity at the SLO: %d concurrent requests per replica (next limit: %s)", c.MaxConcurrency, c.Reason), c.AtCapacity)
		} else {
			fmt.Fprintf(w, "  capacity at the SLO: none (%s)\n", c.Reason)
		}
	}
	if r := a.ReplicasForPeak; r != nil {
		fmt.Fprintf(w, "  replicas for %s requests/s with %s%% headroom: %s\n", num(r.PeakRequestsPerSecond), num(r.Headroom*100), spanOf(r.Replicas))
	}
	costs := a.Costs
	if len(costs) > 0 {
		fmt.Fprintln(w, "  on-demand cost:")
	}
	for _, c := range costs {
		fmt.Fprintf(w, "    %s %s (%d GPUs, %s, $%s/h): ", c.Provider, c.Name, c.GPUCount, c.PriceRegion, money(c.OnDemandHourlyUSD))
		if !c.Fits {
			fmt.Fprintf(w, "does not fit: %s\n", val(c.Reason))
			continue
		}
		fmt.Fprintf(w, "%d replicas per machine, $%s a month per machine", val(c.ReplicasPerInstance), money(val(c.InstanceMonthlyUSD)))
		if c.USDPerMillionOutputTokens != nil {
			fmt.Fprintf(w, ", $%s per million output tokens", rng(c.USDPerMillionOutputTokens))
		}
		if c.MonthlyUSDForPeak != nil {
			fmt.Fprintf(w, "; peak: %s machines, $%s a month", rng(c.InstancesForPeak), rng(c.MonthlyUSDForPeak))
		}
		fmt.Fprintln(w)
	}
	printFooter(w, a.Working, a.Catalog)
}

func summariseTraining(w io.Writer, a api.TrainingEstimate) {
	fmt.Fprintf(w, "%s, %s training in %s on %d x %s, %s billion tokens\n",
		a.Model.Name, a.Method, a.Precision, a.Gpus, a.GPU.Name, num(a.TokensBillion))
	feasibility(w, a.Feasible, val(a.Reason))
	fmt.Fprintf(w, "  compute     %s FLOPs\n", spanOf(a.FlopsRange))
	fmt.Fprintf(w, "  GPU-hours   %s at MFU %s\n", spanOf(a.GPUHours), spanOf(a.MFU))
	hours := spanOf(a.WallClockHours)
	days := span{Low: hours.Low / 24, High: hours.High / 24}
	fmt.Fprintf(w, "  wall clock  %s hours (%s days)\n", hours, days)
	fmt.Fprintf(w, "  model and optimizer states per GPU (activations not counted), GB:")
	perGPU := a.MemoryPerGPUGB
	for _, k := range []string{"full_adam", "zero3", "lora", "qlora"} {
		fmt.Fprintf(w, " %s %s", k, num(perGPU[k]))
	}
	fmt.Fprintf(w, "\n  this run: %s GB of the %s GB per GPU\n", num(a.MethodMemoryGB), num(val(a.GPU.MemoryGB)))
	costs := a.Costs
	if len(costs) > 0 {
		fmt.Fprintln(w, "  on-demand cost of the run:")
	}
	for _, c := range costs {
		fmt.Fprintf(w, "    %s %s (%d GPUs, %s): %d machines x $%s/h = $%s\n",
			c.Provider, c.Name, c.GPUCount, c.PriceRegion, val(c.Instances), money(c.OnDemandHourlyUSD), rng(c.RunUSD))
	}
	printFooter(w, a.Working, a.Catalog)
}
