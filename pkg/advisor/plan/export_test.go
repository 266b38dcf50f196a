package plan

import (
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// BuildWithEveryWorking is Build with every candidate's working written, as the planner wrote it before
// it kept the text to the candidates a result shows: the tests read the working of any candidate with it.
func BuildWithEveryWorking(cat *catalog.Catalog, req *inframindv1.AssessmentRequest) (Plan, error) {
	pl, err := NewPlanner(cat)
	if err != nil {
		return Plan{}, err
	}
	return pl.build(req, true)
}
