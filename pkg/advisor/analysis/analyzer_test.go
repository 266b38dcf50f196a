package analysis_test

import (
	"github.com/infra-mind/infra-mind/pkg/advisor/analysis"
	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// analyzer runs every test over the embedded catalogue; the catalogue is
// immutable once loaded, so tests share it.
var analyzer = func() *analysis.Analyzer {
	c, err := catalog.Load()
	if err != nil {
		panic("load the embedded catalogue: " + err.Error())
	}
	a, err := analysis.New(c)
	if err != nil {
		panic(err)
	}
	return a
}()
