package synth

import (
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protojson"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
	"github.com/infra-mind/infra-mind/pkg/progress"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// decodeResults parses stored results, keyed by family, at once (each is
// tens of kilobytes of JSON); have, when not nil, is a result already
// decoded, whose family's row is not parsed again, and neither is a row
// whose very bytes cache holds decoded.
func decodeResults(rows []progress.Result, have *inframindv1.AgentResultPublished, cache *decodedResults) (map[string]*inframindv1.AgentResultPublished, error) {
	decoded := make([]*inframindv1.AgentResultPublished, len(rows))
	var g errgroup.Group
	for i, r := range rows {
		if have != nil && r.Family == have.GetFamily() {
			decoded[i] = have
			continue
		}
		if m, ok := cache.get(resultKey{r.TenantID, r.AssessmentID, r.Family}, r.Data); ok {
			decoded[i] = m
			continue
		}
		g.Go(func() error {
			var res inframindv1.AgentResultPublished
			if err := protojson.Unmarshal(r.Data, &res); err != nil {
				return fmt.Errorf("decode stored %s result: %w", r.Family, err)
			}
			decoded[i] = &res
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]*inframindv1.AgentResultPublished, len(rows))
	for i, r := range rows {
		out[r.Family] = decoded[i]
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
