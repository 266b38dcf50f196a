// Command mlops runs the MLOps agent family: the serving, pipeline, registry and monitoring stack fitted to the team.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/caarlos0/env/v11"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
)

func main() {
	roles := platform.Roles{Families: []assessment.Family{assessment.FamilyMLOps}}
	os.Exit(platform.Main("mlops", roles, env.ParseAs[platform.Config]))
}
