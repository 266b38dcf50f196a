package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/infra-mind/infra-mind/pkg/advisor/catalog"
)

// diffCatalogueVersions handles GET /v1/catalogue/versions/{version}/diff?from=: the price moves
// and added or removed instance-region pairs between two catalogue versions this build holds.
// Without from, the version before {version} is the base.
func (s *Server) diffCatalogueVersions(c echo.Context) error {
	to, err := catalogueVersionParam("version", c.Param("version"))
	if err != nil {
		return err
	}
	toTable, ok := catalog.FindPriceTable(s.priceTables, to)
	if !ok {
		return notFound(fmt.Sprintf("catalogue version %s is not held (held: %s)", to, s.heldVersions()))
	}
	var fromTable catalog.PriceTable
	if raw := c.QueryParam("from"); raw != "" {
		from, err := catalogueVersionParam("from", raw)
		if err != nil {
			return err
		}
		if fromTable, ok = catalog.FindPriceTable(s.priceTables, from); !ok {
			return notFound(fmt.Sprintf("catalogue version %s is not held (held: %s)", from, s.heldVersions()))
		}
	} else {
		for _, t := range s.priceTables {
			if catalog.CompareVersions(t.Version, to) < 0 {
				fromTable = t
			}
		}
		if fromTable.Version == "" {
			return invalidField("from", fmt.Sprintf("catalogue version %s is the oldest held; name a version to compare with", to))
		}
	}
	return c.JSON(http.StatusOK, catalog.DiffPrices(fromTable, toTable))
}

// heldVersions lists the catalogue versions this build holds, oldest first.
func (s *Server) heldVersions() string {
	vs := make([]string, 0, len(s.priceTables))
	for _, t := range s.priceTables {
		vs = append(vs, t.Version)
	}
	return strings.Join(vs, ", ")
}

// catalogueVersionParam checks a catalogue version's form: YYYY-MM-DD.N.
func catalogueVersionParam(field, v string) (string, error) {
	date, n, ok := strings.Cut(v, ".")
	good := ok && len(date) == 10 && date[4] == '-' && date[7] == '-' && n != "" && len(v) <= 20
	for i, r := range date {
		if i != 4 && i != 7 && (r < '0' || r > '9') {
			good = false
		}
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			good = false
		}
	}
	if !good {
		return "", invalidField(field, fmt.Sprintf("%q is not a catalogue version (YYYY-MM-DD.N)", v))
	}
	return v, nil
}
