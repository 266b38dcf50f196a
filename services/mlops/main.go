// Command mlops runs the MLOps agent family: the serving, pipeline, registry and monitoring stack fitted to the team.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/familyrole"
)

func main() {
	family := familyrole.Role(assessment.FamilyMLOps)
	os.Exit(platform.Main("mlops", platform.ParseEnv(os.Environ()), family))
}
