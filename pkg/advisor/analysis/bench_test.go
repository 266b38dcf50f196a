package analysis_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// BenchmarkFamilies times each family's analysis of the 70B chatbot example,
// the pure computation a worker does per message (no I/O).
func BenchmarkFamilies(b *testing.B) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "chatbot-70b-hipaa-us.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	req, err := assessment.ParseRequest(doc)
	if err != nil {
		b.Fatal(err)
	}
	cloud, err := analyzer.Analyze(assessment.FamilyCloud, req, nil)
	if err != nil {
		b.Fatal(err)
	}
	up := map[assessment.Family]*inframindv1.AgentResultPublished{
		assessment.FamilyCloud: {Family: "cloud", Status: "ok", Metrics: cloud.Metrics, Findings: cloud.Findings},
	}
	for _, f := range assessment.Families() {
		b.Run(string(f), func(b *testing.B) {
			for b.Loop() {
				if _, err := analyzer.Analyze(f, req, up); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
