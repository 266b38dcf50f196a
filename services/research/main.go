// Command research runs the research agent family: figure freshness and cross-provider comparison.
// Configuration comes from the environment; see README.md in this folder.
package main

import (
	"os"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/platform/familyrole"
)

func main() {
	family := familyrole.Role(assessment.FamilyResearch)
	os.Exit(platform.Main("research", platform.ParseEnv(os.Environ()), family))
}
