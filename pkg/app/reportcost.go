package app

import (
	"context"
	"encoding/json"
	"fmt"
)

// CostRange is a finished plan's monthly cost on demand, USD.
type CostRange struct {
	Low, High float64
	// Priced is false when the plan could not be priced.
	Priced bool
}

// MonthlyCost returns the on-demand monthly cost range of one of tenant's
// finished assessments, read from its stored report (through the report
// cache), for lists that show it beside each assessment. A report not
// written yet is a *NotReadyError.
func (r *Reports) MonthlyCost(ctx context.Context, tenant, id string) (CostRange, error) {
	body, _, err := r.stored(ctx, tenant, id)
	if err != nil {
		return CostRange{}, err
	}
	var doc struct {
		Cost struct {
			Options []struct {
				Available bool    `json:"available"`
				Low       float64 `json:"low_usd_month"`
				High      float64 `json:"high_usd_month"`
			} `json:"options"`
		} `json:"cost"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return CostRange{}, fmt.Errorf("decode the cost of %s: %w", id, err)
	}
	// The first option is on demand (report.buildCost's order).
	if len(doc.Cost.Options) == 0 || !doc.Cost.Options[0].Available {
		return CostRange{}, nil
	}
	o := doc.Cost.Options[0]
	return CostRange{Low: o.Low, High: o.High, Priced: true}, nil
}
