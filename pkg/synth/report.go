package synth

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// decodeResults parses stored results, keyed by family.
func decodeResults(rows []progress.Result) (map[string]*inframindv1.AgentResultPublished, error) {
	out := make(map[string]*inframindv1.AgentResultPublished, len(rows))
	for _, r := range rows {
		var res inframindv1.AgentResultPublished
		if err := protojson.Unmarshal(r.Data, &res); err != nil {
			return nil, fmt.Errorf("decode stored %s result: %w", r.Family, err)
		}
		out[r.Family] = &res
	}
	return out, nil
}

// buildReport writes the report of a closed assessment: the model is built
// here, once, and readers only render what is stored.
func buildReport(a store.Assessment, results map[string]*inframindv1.AgentResultPublished, at time.Time) (string, error) {
	b, err := report.Encode(report.Build(report.Input{
		AssessmentID: a.ID, TenantID: a.TenantID, Name: a.Name, Status: a.Status,
		Missing: a.MissingFamilies, Reason: a.Reason, GeneratedAt: at, Results: results,
	}))
	if err != nil {
		return "", err
	}
	return string(b), nil
}
