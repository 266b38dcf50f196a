package analysis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// Helpers the compliance, mlops and research families share to read the
// catalogue: which providers it prices, which of them a request allows, and
// how old a row's as-of date is.

// catalogueProviderScope returns the providers a request allows: its stated
// preference first, then the rest of the catalogue's providers in order,
// without its exclusions. A name the catalogue does not price is an error
// naming the field, since a misspelt exclusion would otherwise be ignored.
func catalogueProviderScope(cat *catalogueIndex, b *inframindv1.Business) ([]string, error) {
	known := cat.providers
	check := func(field string, names []string) ([]string, error) {
		out := make([]string, 0, len(names))
		for i, n := range names {
			p := norm(n)
			if !slices.Contains(known, p) {
				return nil, unanalysable("business.%s[%d]: unknown provider %q (the catalogue prices %s)", field, i, n, strings.Join(known, ", "))
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return out, nil
	}
	pref, err := check("provider_preference", b.GetProviderPreference())
	if err != nil {
		return nil, err
	}
	excl, err := check("provider_exclusions", b.GetProviderExclusions())
	if err != nil {
		return nil, err
	}
	scope := make([]string, 0, len(known))
	for _, p := range append(pref, known...) {
		if !slices.Contains(excl, p) && !slices.Contains(scope, p) {
			scope = append(scope, p)
		}
	}
	if len(scope) == 0 {
		return nil, unanalysable("business.provider_exclusions: excludes every provider the catalogue prices (%s)", strings.Join(known, ", "))
	}
	return scope, nil
}

// rowSource is a catalogue row's source as a Metric.source string: where the
// figure comes from and when it was true.
func rowSource(s catalog.Source) string {
	return s.Source + ", as of " + s.AsOf
}

// asOfSpan is a row's as-of date as the span of days it may mean: one day
// for YYYY-MM-DD, the whole month for YYYY-MM.
type asOfSpan struct {
	first, last time.Time
	monthOnly   bool
}

// parseAsOf reads an as-of date in the catalogue's two forms (catalog
// README: YYYY-MM-DD, or YYYY-MM when only the month is known).
func parseAsOf(s string) (asOfSpan, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return asOfSpan{first: t, last: t}, nil
	}
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return asOfSpan{}, fmt.Errorf("as-of date %q is neither YYYY-MM-DD nor YYYY-MM", s)
	}
	return asOfSpan{first: t, last: t.AddDate(0, 1, -1), monthOnly: true}, nil
}

// daysBetween counts whole days from a to b (UTC dates, so no daylight
// saving shifts).
func daysBetween(a, b time.Time) int {
	return int(b.Sub(a).Hours() / 24)
}
