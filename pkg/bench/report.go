package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Targets for this machine, as ratios in the same run.
const (
	targetP50          = 30 * time.Millisecond
	targetP99          = 150 * time.Millisecond
	targetShareOfBound = 0.5
	targetGrowth       = 1.25
)

// writeReport prints the table to cfg.Out and writes it with the details
// and the profiles' top-10 tables to report.md under cfg.OutDir.
func writeReport(cfg Config, results []Result) (string, error) {
	var t strings.Builder
	fmt.Fprintf(&t, "Measured %s on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine())
	table(&t, results)
	for _, r := range results {
		breakdownTable(&t, r)
	}
	fmt.Fprint(cfg.Out, t.String())

	var full strings.Builder
	full.WriteString("# make bench\n\n")
	full.WriteString(t.String())
	for _, r := range results {
		details(&full, r)
	}
	path := filepath.Join(cfg.OutDir, "report.md")
	if err := os.WriteFile(path, []byte(full.String()), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// machine is the CPU model, its logical CPUs and the memory, from /proc.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GB memory", float64(kb)/1024/1024)
		}
	}
	if model == "" {
		model = runtime.GOARCH
	}
	return fmt.Sprintf("%s, %d logical CPUs%s, %s/%s", model, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}

func table(w *strings.Builder, results []Result) {
	w.WriteString("| |")
	for _, r := range results {
		fmt.Fprintf(w, " %s |", r.Deployment)
	}
	w.WriteString("\n|---|")
	for range results {
		w.WriteString("---|")
	}
	w.WriteString("\n")
	row := func(label string, cell func(Result) string) {
		fmt.Fprintf(w, "| %s |", label)
		for _, r := range results {
			fmt.Fprintf(w, " %s |", cell(r))
		}
		w.WriteString("\n")
	}
	row("one at a time, POST to completed event", func(r Result) string {
		return fmt.Sprintf("p50 %s, p99 %s (%d samples%s%s)", ms(r.Single.P50), ms(r.Single.P99), r.Single.N, notDone(r.Single.NotCompleted), spent(r.Single.BudgetSpent))
	})
	row("one at a time, followed by tracing (the breakdown's samples)", func(r Result) string {
		if r.Traced.N == 0 {
			return "not measured"
		}
		return fmt.Sprintf("p50 %s, p99 %s (%d samples%s%s)", ms(r.Traced.P50), ms(r.Traced.P99), r.Traced.N, notDone(r.Traced.NotCompleted), spent(r.Traced.BudgetSpent))
	})
	row(fmt.Sprintf("target p50 <= %s, p99 <= %s", ms(targetP50), ms(targetP99)), func(r Result) string {
		if r.Single.N == 0 {
			return "not measured"
		}
		return fmt.Sprintf("%s (p50 %.2fx, p99 %.2fx of target)", met(r.Single.P50 <= targetP50 && r.Single.P99 <= targetP99 && r.Single.NotCompleted == 0),
			ratio(r.Single.P50, targetP50), ratio(r.Single.P99, targetP99))
	})
	row("raw JetStream publish+consume", func(r Result) string { return fmt.Sprintf("%s msgs/s", num(r.Baseline.JetStreamPerSecond)) })
	row("messages per assessment: stored / delivered (pairs)", func(r Result) string {
		return fmt.Sprintf("%.1f / %.1f (%.1f)", r.Counts.Published, r.Counts.Delivered, r.Counts.Messages())
	})
	row("JetStream bound", func(r Result) string { return fmt.Sprintf("%s assessments/s", num(r.Bounds().Bus)) })
	row("store key lookups / inserts", func(r Result) string {
		return fmt.Sprintf("%s / %s per s", num(r.Baseline.LookupsPerSecond), num(r.Baseline.InsertsPerSecond))
	})
	row("store reads / writes per assessment", func(r Result) string {
		return fmt.Sprintf("%.1f / %.1f", r.Counts.Reads, r.Counts.Writes)
	})
	row("store bound", func(r Result) string { return fmt.Sprintf("%s assessments/s", num(r.Bounds().Store)) })
	row("infrastructure bound (the lower)", func(r Result) string { return fmt.Sprintf("%s assessments/s", num(r.Bounds().Bound())) })
	levels := map[int]bool{}
	var order []int
	for _, r := range results {
		for _, s := range r.Sustained {
			if !levels[s.InFlight] {
				levels[s.InFlight] = true
				order = append(order, s.InFlight)
			}
		}
	}
	for _, level := range order {
		row(fmt.Sprintf("sustained, %d in flight", level), func(r Result) string {
			for _, s := range r.Sustained {
				if s.InFlight == level {
					return fmt.Sprintf("%.2f/s = %s of bound (p50 %s, %d assessments%s%s%s)", s.PerSecond, pct(s.PerSecond, r.Bounds().Bound()),
						ms(s.P50), s.N, notDone(s.NotCompleted), retried(s.Retries), spent(s.BudgetSpent))
				}
			}
			return "not measured"
		})
	}
	row(fmt.Sprintf("target sustained >= %.0f%% of bound", 100*targetShareOfBound), func(r Result) string {
		best := 0.0
		for _, s := range r.Sustained {
			best = max(best, s.PerSecond)
		}
		b := r.Bounds().Bound()
		if b == 0 || len(r.Sustained) == 0 {
			return "not measured"
		}
		return fmt.Sprintf("%s (best %s)", met(best >= targetShareOfBound*b), pct(best, b))
	})
	row("p50 after preloading stored assessments", func(r Result) string {
		parts := make([]string, 0, len(r.Preloaded))
		for _, p := range r.Preloaded {
			if p.Latency.N == 0 {
				parts = append(parts, fmt.Sprintf("%s: not measured", count(p.Stored)))
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %s (%.2fx; %d samples%s%s)", count(p.Stored), ms(p.Latency.P50), ratio(p.Latency.P50, r.Single.P50),
				p.Latency.N, notDone(p.Latency.NotCompleted), spent(p.Latency.BudgetSpent)))
		}
		return strings.Join(parts, "; ")
	})
	row(fmt.Sprintf("target p50 at the largest preload <= %.2fx p50 at 0", targetGrowth), func(r Result) string {
		if len(r.Preloaded) < 2 || r.Preloaded[len(r.Preloaded)-1].Latency.N == 0 {
			return "not measured"
		}
		last := r.Preloaded[len(r.Preloaded)-1]
		g := ratio(last.Latency.P50, r.Single.P50)
		return fmt.Sprintf("%s (%.2fx at %s)", met(g <= targetGrowth), g, count(last.Stored))
	})
	w.WriteString("\n")
	for _, r := range results {
		fmt.Fprintf(w, "- %s: %s; measured in %s.\n", r.Deployment, r.Describe, r.Took.Round(time.Second))
		fmt.Fprintf(w, "  Store commands per assessment: %s. Messages stored per assessment by stream: %s; JetStream API requests %.1f.\n",
			orNone(r.Counts.commandList()), orNone(r.Counts.streamList()), r.Counts.APIRequests)
		for _, p := range r.Preloaded {
			if p.Added > 0 {
				fmt.Fprintf(w, "  Preloading %s assessments (%s documents) took %s (%s documents/s).\n", count(p.Added), count(p.Docs),
					p.LoadFor.Round(time.Second), num(float64(p.Docs)/p.LoadFor.Seconds()))
			}
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  Note: %s\n", n)
		}
	}
}

// details are a deployment's failures and profiles, for report.md.
func details(w *strings.Builder, r Result) {
	fmt.Fprintf(w, "\n## %s\n\n%s\n", r.Deployment, r.Describe)
	failures := func(label string, errs []string) {
		if len(errs) > 0 {
			fmt.Fprintf(w, "\n%s, first failures:\n", label)
			for _, e := range errs {
				fmt.Fprintf(w, "- %s\n", e)
			}
		}
	}
	failures("One at a time", r.Single.Errors)
	failures("One at a time, followed by tracing", r.Traced.Errors)
	for _, s := range r.Sustained {
		failures(fmt.Sprintf("%d in flight", s.InFlight), s.Errors)
	}
	for _, p := range r.Preloaded {
		failures(fmt.Sprintf("After %d stored", p.Stored), p.Latency.Errors)
	}
	if len(r.Profiles) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### Profiles at %d in flight (CPU: top 10 by own time; block: top 10 by cumulative time spent waiting)\n", r.ProfiledAt)
	for _, p := range r.Profiles {
		fmt.Fprintf(w, "\n#### %s %s (%s)\n\n```\n%s\n```\n", p.Service, p.Kind, p.Path, p.Top)
	}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func pct(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}

func notDone(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d not completed", n)
}

func spent(b bool) string {
	if b {
		return ", stopped at the time budget"
	}
	return ""
}

func retried(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d POSTs refused and retried", n)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// num formats with thousands separators, no decimals above 100.
func num(f float64) string {
	if f < 100 {
		return fmt.Sprintf("%.1f", f)
	}
	return count(int(f + 0.5))
}

// count formats a whole number with thousands separators.
func count(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
