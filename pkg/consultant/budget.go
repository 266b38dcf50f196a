package consultant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/llm/budget"
)

// Budget meters a tenant's language model use against its budgets
// (budget.Ledger): Check says whether a call of est fits now, and Meter
// wraps the model so each call reserves, settles and releases.
type Budget interface {
	Check(ctx context.Context, tenant string, est budget.Estimate) error
	Meter(tenant string, c llm.Completer) llm.Completer
}

// overBudget is the budget a call was refused by, if it was.
func overBudget(err error) (*budget.ExceededError, bool) {
	var ee *budget.ExceededError
	ok := errors.As(err, &ee)
	return ee, ok
}

// budgetNote says which budget is used up and until when, for a note.
func budgetNote(ee *budget.ExceededError) string {
	limit := fmt.Sprintf("%.0f tokens", ee.Limit)
	if ee.Unit() == "USD" {
		limit = fmt.Sprintf("$%.2f", ee.Limit)
	}
	return fmt.Sprintf("the organisation's language model budget %s (%s) is used up until %s",
		ee.Budget, limit, ee.Resets.UTC().Format(time.RFC3339))
}
