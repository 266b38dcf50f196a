// Command strategy runs the strategy agent family: alignment with goals and budget, roadmap and risks.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/familyrole"
)

func main() {
	family := familyrole.Role(assessment.FamilyStrategy)
	os.Exit(platform.Main("strategy", platform.ParseEnv(os.Environ()), family))
}
