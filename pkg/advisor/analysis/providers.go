package analysis

import (
	"slices"
	"strings"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// providerScope returns the providers the analysis may use: the user's
// preference order first, then the remaining priced providers in a fixed
// order, without the exclusions. Unknown names are errors naming the field,
// since a misspelt exclusion would otherwise be silently ignored.
func providerScope(b *inframindv1.Business) ([]string, error) {
	known := providers()
	check := func(field string, names []string) ([]string, error) {
		out := make([]string, 0, len(names))
		for i, n := range names {
			p := norm(n)
			if !slices.Contains(known, p) {
				return nil, unanalysable("business.%s[%d]: unknown provider %q (known: %s)", field, i, n, strings.Join(known, ", "))
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
	ordered := append(pref, known...)
	scope := make([]string, 0, len(known))
	for _, p := range ordered {
		if !slices.Contains(excl, p) && !slices.Contains(scope, p) {
			scope = append(scope, p)
		}
	}
	if len(scope) == 0 {
		return nil, unanalysable("business.provider_exclusions: excludes every priced provider (%s)", strings.Join(known, ", "))
	}
	return scope, nil
}

// providers lists the cloud providers the catalogue prices, in a fixed order.
func providers() []string {
	return []string{"aws", "azure", "gcp"}
}
