// Command simulation runs the simulation agent family: growth scenarios and cost projections over the cloud family's plan.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/familyrole"
)

func main() {
	family := familyrole.Role(assessment.FamilySimulation)
	os.Exit(platform.Main("simulation", platform.ParseEnv(os.Environ()), family))
}
