package analysis_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// BenchmarkFamilies times each family's analysis of every bundled example,
// the pure computation a worker does per message (no I/O). The families
// run side by side on the same cores, so the ones off the critical path
// (research, strategy, mlops, compliance) still slow an assessment down.
func BenchmarkFamilies(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "examples", "*.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, file := range files {
		doc, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		req, err := assessment.ParseRequest(doc)
		if err != nil {
			b.Fatal(err)
		}
		up := map[assessment.Family]*inframindv1.AgentResultPublished{}
		if cloud, err := analyzer.Analyze(assessment.FamilyCloud, req, nil); err == nil {
			up[assessment.FamilyCloud] = &inframindv1.AgentResultPublished{Family: "cloud", Status: "ok", Metrics: cloud.Metrics, Findings: cloud.Findings}
		}
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		for _, f := range assessment.Families() {
			_, firstErr := analyzer.Analyze(f, req, up)
			b.Run(name+"/"+string(f), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := analyzer.Analyze(f, req, up); (err == nil) != (firstErr == nil) {
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
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "examples", "*.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	if len(files) == 0 {
		b.Fatal("no examples")
	}
	for _, file := range files {
		doc, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		req, err := assessment.ParseRequest(doc)
		if err != nil {
			b.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		cloud, cloudErr := analyzer.Analyze(assessment.FamilyCloud, req, nil)
		b.Run(name+"/cloud", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := analyzer.Analyze(assessment.FamilyCloud, req, nil)
				if (err == nil) != (cloudErr == nil) {
					b.Fatalf("cloud: %v, first run: %v", err, cloudErr)
				}
			}
		})
		if cloudErr != nil {
			continue
		}
		up := map[assessment.Family]*inframindv1.AgentResultPublished{
			assessment.FamilyCloud: {Family: "cloud", Status: "ok", Metrics: cloud.Metrics, Findings: cloud.Findings},
		}
		b.Run(name+"/simulation", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := analyzer.Analyze(assessment.FamilySimulation, req, up); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
