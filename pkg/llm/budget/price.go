package budget

import (
	"strings"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// CataloguePrice finds model among the catalogue's hosted-API rows: the row
// of that exact model (case aside), or else the longest row whose model the
// configured one extends with a dated snapshot suffix, one that starts with
// a digit ("gpt-4o-mini-2024-07-18" is priced as gpt-4o-mini, but
// "gpt-4.1-mini" is not gpt-4.1). The price carries the row's own source and
// date.
func CataloguePrice(rows []catalog.HostedAPI, model string) (Price, bool) {
	model = strings.ToLower(strings.TrimSpace(model))
	if model == "" {
		return Price{}, false
	}
	best := -1
	for i, r := range rows {
		id := strings.ToLower(r.Model)
		if id == model {
			best = i
			break
		}
		suffix, ok := strings.CutPrefix(model, id+"-")
		if ok && suffix != "" && suffix[0] >= '0' && suffix[0] <= '9' && (best < 0 || len(id) > len(rows[best].Model)) {
			best = i
		}
	}
	if best < 0 {
		return Price{}, false
	}
	r := rows[best]
	return Price{InputUSDPerMTok: r.InputUSDPerMTok, OutputUSDPerMTok: r.OutputUSDPerMTok,
		Source: "catalogue hosted API " + r.Provider + "/" + r.Model + ": " + r.Source.Source + ", as of " + r.AsOf}, true
}
