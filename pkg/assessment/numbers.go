package assessment

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxNumberLength bounds how a number is written: float64 holds 17
// significant digits, so no figure in a request needs more characters, and a
// longer one costs the schema validator (which compares exact rationals)
// time for nothing.
const maxNumberLength = 100

// NumberErrors finds the numbers of a decoded JSON document (json.Number
// leaves, as jsonschema.UnmarshalJSON returns them) that no calculation can
// hold: beyond float64's range (they would become infinite), so close to 0
// that float64 reads them as 0 (a stated rate would silently become "not
// stated"), or written with more than 100 characters. JSON cannot carry NaN
// or Infinity, so after this check every number is finite; the schema's
// minimum and maximum then say which finite numbers make sense. It runs
// before the schema, whose validator cannot parse exponents such as 1e9999999.
// Fields are named like "workloads[0].epochs".
func NumberErrors(instance any) []FieldError {
	var out []FieldError
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, v[k])
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case json.Number:
			if reason, ok := numberReason(string(v)); !ok {
				out = append(out, FieldError{Field: path, Reason: reason})
			}
		}
	}
	walk("", instance)
	return out
}

// numberReason says why a JSON number literal cannot be computed with.
func numberReason(lit string) (string, bool) {
	if len(lit) > maxNumberLength {
		return fmt.Sprintf("is a number written with %d characters; no figure needs more than %d", len(lit), maxNumberLength), false
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		// A valid JSON number fails only by overflowing float64.
		return fmt.Sprintf("is too large to compute with (got %s); numbers must be finite, far below 1e308", lit), false
	}
	if f == 0 && !zeroLiteral(lit) {
		return fmt.Sprintf("is too close to 0 to compute with (got %s); write 0 or a figure within the field's range", lit), false
	}
	return "", true
}

// zeroLiteral reports whether a JSON number literal is zero: no digit of
// its mantissa is other than 0.
func zeroLiteral(lit string) bool {
	mantissa, _, _ := strings.Cut(strings.ToLower(lit), "e")
	return strings.Trim(mantissa, "-+.0") == ""
}
