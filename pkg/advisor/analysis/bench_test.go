package analysis_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// benchExample is a bundled example's request and, when the plan succeeds,
// the cloud family's result the downstream families read.
type benchExample struct {
	name     string
	req      *inframindv1.AssessmentRequest
	cloudErr error
	up       map[assessment.Family]*inframindv1.AgentResultPublished
}

// benchExamples reads every bundled example and runs its cloud family once.
func benchExamples(b *testing.B) []benchExample {
	b.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "examples", "*.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	if len(files) == 0 {
		b.Fatal("no examples")
	}
	var out []benchExample
	for _, file := range files {
		doc, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		req, err := assessment.ParseRequest(doc)
		if err != nil {
			b.Fatal(err)
		}
		ex := benchExample{name: strings.TrimSuffix(filepath.Base(file), ".yaml"), req: req,
			up: map[assessment.Family]*inframindv1.AgentResultPublished{}}
		cloud, err := analyzer.Analyze(assessment.FamilyCloud, req, nil)
		ex.cloudErr = err
		if err == nil {
			ex.up[assessment.FamilyCloud] = &inframindv1.AgentResultPublished{Family: "cloud", Status: "ok", Metrics: cloud.Metrics, Findings: cloud.Findings}
		}
		out = append(out, ex)
	}
	return out
}

// BenchmarkFamilies times each family's analysis of every bundled example,
// the pure computation a worker does per message (no I/O). The families
// run side by side on the same cores, so the ones off the critical path
// (research, strategy, mlops, compliance) still slow an assessment down.
func BenchmarkFamilies(b *testing.B) {
	for _, ex := range benchExamples(b) {
		for _, f := range assessment.Families() {
			_, firstErr := analyzer.Analyze(f, ex.req, ex.up)
			b.Run(ex.name+"/"+string(f), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := analyzer.Analyze(f, ex.req, ex.up); (err == nil) != (firstErr == nil) {
						b.Fatalf("%s: %v, first run: %v", f, err, firstErr)
					}
				}
			})
		}
	}
}

// BenchmarkCriticalPath times, for every bundled example, the two families an
// assessment waits for one after the other: cloud (the deployment plan) and
// simulation (which needs the plan). Each is the pure computation its worker
// does per message (no I/O), with allocations reported.
func BenchmarkCriticalPath(b *testing.B) {
	for _, ex := range benchExamples(b) {
		b.Run(ex.name+"/cloud", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := analyzer.Analyze(assessment.FamilyCloud, ex.req, nil)
				if (err == nil) != (ex.cloudErr == nil) {
					b.Fatalf("cloud: %v, first run: %v", err, ex.cloudErr)
				}
			}
		})
		if ex.cloudErr != nil {
			continue
		}
		b.Run(ex.name+"/simulation", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := analyzer.Analyze(assessment.FamilySimulation, ex.req, ex.up); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
