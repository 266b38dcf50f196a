package analysis_test

import (
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

func nWorkloads(n int) []*inframindv1.Workload {
	ws := make([]*inframindv1.Workload, n)
	for i := range ws {
		ws[i] = &inframindv1.Workload{Kind: "general", PeakRequestsPerSecond: 1}
	}
	return ws
}
