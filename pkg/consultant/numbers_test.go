package consultant_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/consultant"
	"github.com/infra-mind/infra-mind/pkg/report"
)

func TestExtractNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []float64
	}{
		{name: "money with separators and cents", text: "It costs $12,345.67 a month.", want: []float64{12345.67}},
		{name: "a range", text: "between $1,200-$1,500 monthly", want: []float64{1200, 1500}},
		{name: "scaled money", text: "about $12.3k, or $1.2M a year", want: []float64{12300, 1.2e6}},
		{name: "words", text: "3 million requests", want: []float64{3e6}},
		{name: "percent", text: "a 45% saving", want: []float64{45}},
		{name: "plain counts", text: "8 GPUs on 2 nodes", want: []float64{8, 2}},
		{name: "names are not quantities", text: "H100 on p5.48xlarge serving llama-3.1-70b and GPT-4o under SOC2", want: nil},
		{name: "units glued to a number are not placed", text: "a 70B model with an 8k context", want: nil},
		{name: "years and list markers", text: "1. Start in 2027.\n2) Then scale.", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []float64
			for _, n := range consultant.ExtractNumbers(tt.text) {
				got = append(got, n.Value)
			}
			require.InDeltaSlice(t, tt.want, got, 1e-6)
		})
	}
}

func sampleReport() report.Document {
	return report.Document{
		Model: report.Model{
			AssessmentID: "a1", TenantID: "acme", Name: "Clinical assistant with budget 999999", Status: "completed",
			Executive: report.Executive{
				Summary:    "All 2 families answered. The plan costs $12,345.67 - $15,000.00 a month on demand.",
				KeyFigures: []report.Figure{{Label: "GPUs", Low: 8, High: 8, Unit: "GPU"}},
				Families:   []report.FamilyLine{{Family: "cloud", Status: "ok"}, {Family: "compliance", Status: "ok"}},
			},
			Cost: report.Cost{Options: []report.CostOption{
				{Option: "on demand", Available: true, Low: 12345.67, High: 15000},
				{Option: "3-year commitment", Available: true, Low: 7407.4, High: 9000},
			}},
			Risks: []report.Risk{{Title: "Budget overrun", Score: 15}},
		},
		Families: []report.FamilySection{
			{Family: "cloud", Status: "ok", Summary: "Sized 1 workload on aws p5.48xlarge: 8 GPUs at 0.45 utilisation.",
				Metrics: []report.Metric{{Name: "monthly_cost_usd_low", Value: 12345.67, Unit: "USD/month"}, {Name: "gpus", Value: 8}}},
			{Family: "compliance", Status: "ok", Summary: "HIPAA applies: 12 controls, 3 gaps."},
		},
	}
}

func TestGroundsAcceptReportNumbersRoundedAndRefuseOthers(t *testing.T) {
	t.Parallel()
	g := consultant.GroundsOf(sampleReport())
	tests := []struct {
		text string
		ok   bool
	}{
		{"The plan costs $12,345.67 a month.", true},
		{"The plan costs about $12,300 a month.", true},
		{"The plan costs about $12.3k a month.", true},
		{"Roughly $12,000 a month.", true},
		{"It runs on 8 GPUs at 45% utilisation.", true},
		{"A 3-year commitment brings it to $7,407.40.", true},
		{"HIPAA brings 12 controls and 3 gaps.", true},
		{"The top risk scores 15.", true},
		{"The plan costs $13,000 a month.", false},
		{"It needs 16 GPUs.", false},
		{"That saves 40% a year.", false},
		{"The budget is 999999.", false},
		{"Yearly cost is $148,148.", false},
	}
	for _, tt := range tests {
		bad := g.Unsupported(tt.text)
		if tt.ok {
			require.Empty(t, bad, tt.text)
		} else {
			require.NotEmpty(t, bad, tt.text)
		}
	}
}
