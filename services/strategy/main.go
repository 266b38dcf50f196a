// Command strategy runs the strategy agent family: alignment with goals and budget, roadmap and risks.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/caarlos0/env/v11"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
)

func main() {
	roles := platform.Roles{Families: []assessment.Family{assessment.FamilyStrategy}}
	os.Exit(platform.Main("strategy", roles, env.ParseAs[platform.Config]))
}
