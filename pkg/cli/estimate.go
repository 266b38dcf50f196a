package cli

import (
	"bytes"
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

	"github.com/infra-mind/infra-mind/pkg/client"
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

// body is a request under construction: only flags the user set are sent,
// so the gateway's defaults apply to the rest.
type body map[string]any

func (b body) str(key, v string) {
	if v != "" {
		b[key] = v
	}
}

func (b body) num(key string, v float64) {
	if v != 0 {
		b[key] = v
	}
}

func (b body) integer(key string, v int) {
	if v != 0 {
		b[key] = v
	}
}

// instanceFlag parses "provider/name" into the request's instance object.
func (b body) instance(v string) error {
	if v == "" {
		return nil
	}
	provider, name, ok := strings.Cut(v, "/")
	if !ok || provider == "" || name == "" {
		return usageError{fmt.Errorf("--instance %q: write provider/name, like aws/p5.48xlarge", v)}
	}
	b["instance"] = map[string]string{"provider": provider, "name": name}
	return nil
}

// requestBody returns the -f file when given (then no body flag may be set),
// or the body built from the flags.
func requestBody(fs *flag.FlagSet, g gatewayFlags, b body) ([]byte, error) {
	if *g.file == "" {
		out, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		return out, nil
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
		return nil, usageError{fmt.Errorf("-f sends the file as it is; drop %s", strings.Join(clash, ", "))}
	}
	out, err := os.ReadFile(*g.file)
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	return out, nil
}

// call sends the body with fn and prints the answer: raw JSON with --json,
// otherwise through summarise.
func call(ctx context.Context, g gatewayFlags, reqBody []byte, w io.Writer,
	fn func(*client.Client, context.Context, []byte) (json.RawMessage, error), summarise func(io.Writer, []byte) error) error {
	if g.token.v == "" {
		return usageError{errors.New("no token: pass --token or set IM_TOKEN")}
	}
	c, err := client.New(*g.url, g.token.v, nil)
	if err != nil {
		return usageError{err}
	}
	ans, err := fn(c, ctx, reqBody)
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	if *g.json {
		var out bytes.Buffer
		if err := json.Indent(&out, ans, "", "  "); err != nil {
			return fmt.Errorf("format the answer: %w", err)
		}
		out.WriteByte('\n')
		_, err := w.Write(out.Bytes())
		return err
	}
	return summarise(w, ans)
}

func runEstimateInference(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("estimate inference", io)
	g := addGatewayFlags(fs, io)
	model := fs.String("model", "", "catalogue model id, e.g. llama-3.1-70b")
	precision := fs.String("precision", "bf16", "weight precision: bf16, fp16, fp8, int8 or int4")
	kv := fs.String("kv-precision", "", "KV cache precision (default 16-bit)")
	gpu := fs.String("gpu", "", "catalogue GPU id, e.g. h100-sxm (costs for every instance with it)")
	inst := fs.String("instance", "", "catalogue instance as provider/name, e.g. aws/p5.48xlarge (instead of --gpu)")
	tp := fs.Int("tp", 0, "tensor-parallel degree (default: the minimum that fits)")
	in := fs.Int("input-tokens", 0, "mean prompt tokens")
	out := fs.Int("output-tokens", 0, "mean completion tokens")
	conc := fs.Int("concurrency", 0, "requests in flight per replica (default 1 without an SLO)")
	ttft := fs.Float64("ttft-ms", 0, "SLO: 95th-percentile time to first token, ms")
	itl := fs.Float64("itl-ms", 0, "SLO: inter-token latency, ms")
	tps := fs.Float64("min-tps", 0, "SLO: slowest per-user speed, tokens/s")
	peak := fs.Float64("peak-rps", 0, "peak requests per second to size replicas for")
	headroom := fs.Float64("headroom", 0, "spare capacity above the peak, as a fraction (0.2 = 20%)")
	if err := parse(fs, args); err != nil {
		return err
	}
	b := body{}
	b.str("model", *model)
	b.str("precision", *precision)
	b.str("kv_cache_precision", *kv)
	b.str("gpu", *gpu)
	if err := b.instance(*inst); err != nil {
		return err
	}
	b.integer("tensor_parallel", *tp)
	b.integer("input_tokens", *in)
	b.integer("output_tokens", *out)
	b.integer("concurrency", *conc)
	slo := body{}
	slo.num("ttft_p95_ms", *ttft)
	slo.num("inter_token_latency_ms", *itl)
	slo.num("min_tokens_per_second_per_user", *tps)
	if len(slo) > 0 {
		b["slo"] = slo
	}
	b.num("peak_requests_per_second", *peak)
	b.num("headroom", *headroom)
	reqBody, err := requestBody(fs, g, b)
	if err != nil {
		return err
	}
	return call(ctx, g, reqBody, io.Stdout, (*client.Client).EstimateInference, summariseInference)
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
	tokens := fs.Float64("tokens-billion", 0, "training tokens, in billions")
	dataset := fs.Float64("dataset-tokens-billion", 0, "dataset tokens, in billions (with --epochs, instead of --tokens-billion)")
	epochs := fs.Float64("epochs", 0, "passes over the dataset")
	mfu := fs.String("mfu", "", "model FLOPs utilisation range low-high, e.g. 0.3-0.4 (default 0.35-0.45)")
	rank := fs.Int("lora-rank", 0, "adapter rank for lora and qlora (default 8)")
	if err := parse(fs, args); err != nil {
		return err
	}
	b := body{}
	b.str("model", *model)
	b.str("method", *method)
	b.str("precision", *precision)
	b.str("gpu", *gpu)
	if err := b.instance(*inst); err != nil {
		return err
	}
	b.integer("gpus", *gpus)
	b.num("tokens_billion", *tokens)
	b.num("dataset_tokens_billion", *dataset)
	b.num("epochs", *epochs)
	b.integer("lora_rank", *rank)
	if *mfu != "" {
		lo, hi, ok := strings.Cut(*mfu, "-")
		low, err1 := strconv.ParseFloat(lo, 64)
		high, err2 := strconv.ParseFloat(hi, 64)
		if !ok || err1 != nil || err2 != nil {
			return usageError{fmt.Errorf("--mfu %q: write low-high, like 0.3-0.4", *mfu)}
		}
		b["mfu"] = map[string]float64{"low": low, "high": high}
	}
	reqBody, err := requestBody(fs, g, b)
	if err != nil {
		return err
	}
	return call(ctx, g, reqBody, io.Stdout, (*client.Client).EstimateTraining, summariseTraining)
}

// span is a range in an answer.
type span struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
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

type subjectOut struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	MemoryGB float64 `json:"memory_gb"`
}

type pointOut struct {
	Concurrency         int    `json:"concurrency"`
	TTFTms              span   `json:"ttft_ms"`
	TTFTp95ms           span   `json:"ttft_p95_ms"`
	ITLms               span   `json:"itl_ms"`
	TokensPerSecPerUser span   `json:"tokens_per_sec_per_user"`
	OutputTokensPerSec  span   `json:"output_tokens_per_sec"`
	RequestsPerSec      span   `json:"requests_per_sec"`
	Saturated           bool   `json:"saturated"`
	SaturationReason    string `json:"saturation_reason"`
	MeetsSLO            *bool  `json:"meets_slo"`
}

type costOut struct {
	Provider                  string  `json:"provider"`
	Name                      string  `json:"name"`
	GPUCount                  int     `json:"gpu_count"`
	PriceRegion               string  `json:"price_region"`
	OnDemandHourlyUSD         float64 `json:"on_demand_hourly_usd"`
	Fits                      bool    `json:"fits"`
	Reason                    string  `json:"reason"`
	ReplicasPerInstance       int     `json:"replicas_per_instance"`
	InstanceMonthlyUSD        float64 `json:"instance_monthly_usd"`
	USDPerMillionOutputTokens *span   `json:"usd_per_million_output_tokens"`
	InstancesForPeak          *span   `json:"instances_for_peak"`
	MonthlyUSDForPeak         *span   `json:"monthly_usd_for_peak"`
	Instances                 int     `json:"instances"`
	RunUSD                    *span   `json:"run_usd"`
}

type workingOut struct {
	Assumptions []string `json:"assumptions"`
}

type catalogOut struct {
	Version string `json:"version"`
	Rows    []struct {
		Table string `json:"table"`
		Key   string `json:"key"`
		AsOf  string `json:"as_of"`
	} `json:"rows"`
}

func feasibility(w io.Writer, feasible bool, reason string) {
	if feasible {
		fmt.Fprintln(w, "  feasible")
		return
	}
	fmt.Fprintf(w, "  NOT FEASIBLE: %s\n", reason)
}

func printFooter(w io.Writer, work workingOut, cat catalogOut) {
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

func summariseInference(w io.Writer, raw []byte) error {
	var a struct {
		Feasible             bool       `json:"feasible"`
		Reason               string     `json:"reason"`
		Model                subjectOut `json:"model"`
		GPU                  subjectOut `json:"gpu"`
		Precision            string     `json:"precision"`
		KVCachePrecision     string     `json:"kv_cache_precision"`
		InputTokens          int        `json:"input_tokens"`
		OutputTokens         int        `json:"output_tokens"`
		TensorParallel       int        `json:"tensor_parallel"`
		TensorParallelChosen string     `json:"tensor_parallel_chosen"`
		Memory               struct {
			WeightsGB    float64 `json:"weights_gb"`
			OverheadGB   float64 `json:"overhead_gb"`
			KVBudgetGB   float64 `json:"kv_budget_gb"`
			MaxSequences int     `json:"max_sequences"`
		} `json:"memory"`
		AtConcurrency *pointOut `json:"at_concurrency"`
		Capacity      *struct {
			Meets          bool      `json:"meets"`
			MaxConcurrency int       `json:"max_concurrency"`
			Limit          string    `json:"limit"`
			Reason         string    `json:"reason"`
			AtCapacity     *pointOut `json:"at_capacity"`
		} `json:"capacity_at_slo"`
		Replicas *struct {
			Peak     float64 `json:"peak_requests_per_second"`
			Headroom float64 `json:"headroom"`
			Replicas span    `json:"replicas"`
		} `json:"replicas_for_peak"`
		Costs   []costOut  `json:"costs"`
		Working workingOut `json:"working"`
		Catalog catalogOut `json:"catalog"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	fmt.Fprintf(w, "%s, %s weights, %s KV cache, on %s; %d input / %d output tokens\n",
		a.Model.Name, a.Precision, a.KVCachePrecision, a.GPU.Name, a.InputTokens, a.OutputTokens)
	feasibility(w, a.Feasible, a.Reason)
	if a.TensorParallel > 0 {
		fmt.Fprintf(w, "  tensor parallel: %d GPUs per replica (%s)\n", a.TensorParallel, a.TensorParallelChosen)
	}
	fmt.Fprintf(w, "  memory per replica: weights %s GB + overhead %s GB; KV cache %s GB holds %d sequences of %d tokens\n",
		num(a.Memory.WeightsGB), num(a.Memory.OverheadGB), num(a.Memory.KVBudgetGB), a.Memory.MaxSequences, a.InputTokens+a.OutputTokens)
	printPoint := func(title string, p *pointOut) {
		fmt.Fprintf(w, "  %s:\n", title)
		fmt.Fprintf(w, "    time to first token  %s ms (p95 %s ms)\n", p.TTFTms, p.TTFTp95ms)
		fmt.Fprintf(w, "    inter-token latency  %s ms\n", p.ITLms)
		fmt.Fprintf(w, "    per-user speed       %s tokens/s\n", p.TokensPerSecPerUser)
		fmt.Fprintf(w, "    replica throughput   %s output tokens/s, %s requests/s\n", p.OutputTokensPerSec, p.RequestsPerSec)
		if p.Saturated {
			fmt.Fprintf(w, "    saturated: %s\n", p.SaturationReason)
		}
		if p.MeetsSLO != nil && !*p.MeetsSLO {
			fmt.Fprintln(w, "    this concurrency misses the SLO: see the capacity below")
		}
	}
	if a.AtConcurrency != nil {
		printPoint(fmt.Sprintf("at concurrency %d", a.AtConcurrency.Concurrency), a.AtConcurrency)
	}
	if c := a.Capacity; c != nil {
		if c.Meets && c.AtCapacity != nil {
			printPoint(fmt.Sprintf("capacity at the SLO: %d concurrent requests per replica (next limit: %s)", c.MaxConcurrency, c.Reason), c.AtCapacity)
		} else {
			fmt.Fprintf(w, "  capacity at the SLO: none (%s)\n", c.Reason)
		}
	}
	if r := a.Replicas; r != nil {
		fmt.Fprintf(w, "  replicas for %s requests/s with %s%% headroom: %s\n", num(r.Peak), num(r.Headroom*100), r.Replicas)
	}
	if len(a.Costs) > 0 {
		fmt.Fprintln(w, "  on-demand cost:")
	}
	for _, c := range a.Costs {
		fmt.Fprintf(w, "    %s %s (%d GPUs, %s, $%s/h): ", c.Provider, c.Name, c.GPUCount, c.PriceRegion, money(c.OnDemandHourlyUSD))
		if !c.Fits {
			fmt.Fprintf(w, "does not fit: %s\n", c.Reason)
			continue
		}
		fmt.Fprintf(w, "%d replicas per machine, $%s a month per machine", c.ReplicasPerInstance, money(c.InstanceMonthlyUSD))
		if c.USDPerMillionOutputTokens != nil {
			fmt.Fprintf(w, ", $%s per million output tokens", c.USDPerMillionOutputTokens)
		}
		if c.MonthlyUSDForPeak != nil {
			fmt.Fprintf(w, "; peak: %s machines, $%s a month", c.InstancesForPeak, c.MonthlyUSDForPeak)
		}
		fmt.Fprintln(w)
	}
	printFooter(w, a.Working, a.Catalog)
	return nil
}

func summariseTraining(w io.Writer, raw []byte) error {
	var a struct {
		Feasible       bool               `json:"feasible"`
		Reason         string             `json:"reason"`
		Model          subjectOut         `json:"model"`
		GPU            subjectOut         `json:"gpu"`
		Method         string             `json:"method"`
		Precision      string             `json:"precision"`
		GPUs           int                `json:"gpus"`
		TokensBillion  float64            `json:"tokens_billion"`
		MFU            span               `json:"mfu"`
		FLOPsRange     span               `json:"flops_range"`
		GPUHours       span               `json:"gpu_hours"`
		WallClockHours span               `json:"wall_clock_hours"`
		MemoryPerGPUGB map[string]float64 `json:"memory_per_gpu_gb"`
		MethodMemoryGB float64            `json:"method_memory_gb"`
		Costs          []costOut          `json:"costs"`
		Working        workingOut         `json:"working"`
		Catalog        catalogOut         `json:"catalog"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	fmt.Fprintf(w, "%s, %s training in %s on %d x %s, %s billion tokens\n",
		a.Model.Name, a.Method, a.Precision, a.GPUs, a.GPU.Name, num(a.TokensBillion))
	feasibility(w, a.Feasible, a.Reason)
	fmt.Fprintf(w, "  compute     %s FLOPs\n", a.FLOPsRange)
	fmt.Fprintf(w, "  GPU-hours   %s at MFU %s\n", a.GPUHours, a.MFU)
	days := span{Low: a.WallClockHours.Low / 24, High: a.WallClockHours.High / 24}
	fmt.Fprintf(w, "  wall clock  %s hours (%s days)\n", a.WallClockHours, days)
	fmt.Fprintf(w, "  model and optimizer states per GPU (activations not counted), GB:")
	for _, k := range []string{"full_adam", "zero3", "lora", "qlora"} {
		fmt.Fprintf(w, " %s %s", k, num(a.MemoryPerGPUGB[k]))
	}
	fmt.Fprintf(w, "\n  this run: %s GB of the %s GB per GPU\n", num(a.MethodMemoryGB), num(a.GPU.MemoryGB))
	if len(a.Costs) > 0 {
		fmt.Fprintln(w, "  on-demand cost of the run:")
	}
	for _, c := range a.Costs {
		fmt.Fprintf(w, "    %s %s (%d GPUs, %s): %d machines x $%s/h = $%s\n",
			c.Provider, c.Name, c.GPUCount, c.PriceRegion, c.Instances, money(c.OnDemandHourlyUSD), c.RunUSD)
	}
	printFooter(w, a.Working, a.Catalog)
	return nil
}
