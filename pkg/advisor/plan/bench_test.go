package plan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	"github.com/infra-mind/infra-mind/pkg/advisor/plan"
	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// BenchmarkPlanChatbot plans the chatbot example with every provider and region allowed, over the
// instance rows of every catalogue version the build holds (the curated US rows of 2026-12-06.1,
// the first import, and each later import), in the same run, so the figures compare: the planner's
// cost as the catalogue grows.
func BenchmarkPlanChatbot(b *testing.B) {
	cur, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	tables, err := catalog.PriceTables()
	if err != nil {
		b.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "chatbot-70b-hipaa-us.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	req, err := assessment.ParseRequest(doc)
	if err != nil {
		b.Fatal(err)
	}
	// All regions allowed: no residency, no provider preference or exclusion.
	req.Business.DataResidency = nil
	req.Business.Regions = []string{"us"}
	req.Business.ProviderExclusions = nil
	req.Business.ProviderPreference = nil
	for _, t := range tables {
		v := t.Version
		c := *cur
		c.Instances = t.Instances
		b.Run(fmt.Sprintf("catalogue=%s/rows=%d", v, len(t.Instances)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := plan.Build(&c, req)
				if err != nil {
					b.Fatal(err)
				}
				if _, ok := p.Workloads[0].Chosen(); !ok {
					b.Fatal("no chosen candidate")
				}
			}
		})
	}
}
