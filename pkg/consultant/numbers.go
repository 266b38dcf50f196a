package consultant

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/report"
)

// Number is a number written in a text, with how precisely it is written.
type Number struct {
	// Text is the number as written ("$12.3k", "45%").
	Text string
	// Value is what it stands for (12300, 45).
	Value float64
	// Tolerance is half a unit of its last written digit (the trailing
	// zeros of a whole number from 1,000 up count as rounding): "$12.3k" is
	// 12,250-12,350 and "12,000" 11,500-12,500, but "40" is 39.5-40.5.
	Tolerance float64
	// Percent is set for "45%": 45 or the fraction 0.45 may ground it.
	Percent bool
}

// numberPattern finds numbers: an optional $, digits with optional
// thousands separators and decimals, and an optional scale (k, M, bn,
// thousand, million, billion) or %.
var numberPattern = regexp.MustCompile(`(?i)(\$?)(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(\s?%|\s?(?:thousand|million|billion)\b|(?:k|m|bn|b)\b)?`)

// listMarker is a Markdown list number at the start of a line ("1. ").
var listMarker = regexp.MustCompile(`(?m)^\s*\d+[.)]\s`)

// ExtractNumbers returns the numbers a text states. Numbers glued to a
// letter are names, not quantities (H100, p5.48xlarge, llama-3.1-70b,
// GPT-4o), list markers are layout, and four-digit years from 1900 to 2100
// are dates; none of them is returned.
func ExtractNumbers(text string) []Number {
	text = listMarker.ReplaceAllString(text, " ")
	var out []Number
	for _, m := range numberPattern.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[0], m[1]
		dollar := m[3] > m[2]
		digits := text[m[4]:m[5]]
		suffix := ""
		if m[6] >= 0 {
			suffix = strings.ToLower(strings.TrimSpace(text[m[6]:m[7]]))
		}
		if partOfName(text, start, m[5], end, suffix) {
			continue
		}
		// A bare scale letter after a number without $ is a unit or a name
		// (70B parameters, 8k context): not a quantity the checker can place.
		if !dollar && (suffix == "k" || suffix == "m" || suffix == "b" || suffix == "bn") {
			continue
		}
		plain := strings.ReplaceAll(digits, ",", "")
		v, err := strconv.ParseFloat(plain, 64)
		if err != nil {
			continue
		}
		if !dollar && suffix == "" && !strings.ContainsAny(digits, ".,") && v >= 1900 && v <= 2100 {
			continue
		}
		tol := 0.5
		if i := strings.IndexByte(plain, '.'); i >= 0 {
			tol = 0.5 * math.Pow(10, -float64(len(plain)-i-1))
		} else if z := len(plain) - len(strings.TrimRight(plain, "0")); z > 0 && v >= 1000 {
			tol = 0.5 * math.Pow(10, float64(z))
		}
		scale := 1.0
		switch suffix {
		case "k", "thousand":
			scale = 1e3
		case "m", "million":
			scale = 1e6
		case "b", "bn", "billion":
			scale = 1e9
		}
		out = append(out, Number{Text: strings.TrimSpace(text[start:end]), Value: v * scale, Tolerance: tol * scale, Percent: suffix == "%"})
	}
	return out
}

// partOfName says whether the number at [start, digitsEnd) is glued to a
// letter or to another number's dot (a version, an instance size).
func partOfName(text string, start, digitsEnd, end int, suffix string) bool {
	isWord := func(b byte) bool { return b == '_' || (b|0x20 >= 'a' && b|0x20 <= 'z') }
	if start > 0 {
		p := text[start-1]
		if isWord(p) || p == '.' || (p >= '0' && p <= '9') {
			return true
		}
		// llama-3.1-70b, gpt-4o: a hyphen after a letter joins a name.
		if p == '-' && start > 1 && isWord(text[start-2]) {
			return true
		}
	}
	if suffix == "" && digitsEnd < len(text) {
		n := text[digitsEnd]
		if isWord(n) {
			return true
		}
		// 3.1-70b: a hyphen then a digit or letter continues a name; a
		// range ("1,200-1,500") is a hyphen then a digit too, so only a
		// number that itself follows a name is skipped above.
	}
	_ = end
	return false
}

// Grounds are the numbers a narrative may state: every number of the
// stored report (figures, costs, bands, scores and the numbers in its
// computed texts), but nothing from the user's own words (the assessment's
// name), so text a user wrote cannot vouch for a number.
type Grounds struct {
	values []float64
}

// GroundsOf collects the grounded numbers of a report document.
func GroundsOf(doc report.Document) Grounds {
	b, err := json.Marshal(doc)
	if err != nil {
		return Grounds{}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return Grounds{}
	}
	g := Grounds{}
	g.walk("", v)
	// Counts a narrative may state: families, workloads, risks.
	g.values = append(g.values, float64(len(doc.Families)), float64(len(doc.Architecture)), float64(len(doc.Risks)))
	return g
}

// userKeys hold what users wrote or identifiers, not computed results.
var userKeys = map[string]bool{"name": true, "assessment_id": true, "tenant_id": true, "generated_at": true, "finished_at": true}

func (g *Grounds) walk(key string, v any) {
	switch t := v.(type) {
	case float64:
		g.values = append(g.values, t)
	case string:
		if userKeys[key] {
			return
		}
		for _, n := range ExtractNumbers(t) {
			g.values = append(g.values, n.Value)
		}
	case []any:
		for _, e := range t {
			g.walk(key, e)
		}
	case map[string]any:
		for k, e := range t {
			g.walk(k, e)
		}
	}
}

// Add grounds more values (a tool's result, in a chat).
func (g *Grounds) Add(values ...float64) { g.values = append(g.values, values...) }

// addText grounds the numbers of a tool's result: the values of its JSON
// (as GroundsOf reads a report) or, for text that is not JSON (a result cut
// at its length cap), the numbers written in it.
func (g *Grounds) addText(s string) {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		g.walk("", v)
		return
	}
	for _, n := range ExtractNumbers(s) {
		g.values = append(g.values, n.Value)
	}
}

// Supports says whether n is one of the grounded values, as written or
// rounded (a percentage may also be a grounded fraction).
func (g Grounds) Supports(n Number) bool {
	for _, v := range g.values {
		if near(v, n) || (n.Percent && near(v*100, n)) {
			return true
		}
	}
	return false
}

func near(v float64, n Number) bool {
	return math.Abs(math.Abs(v)-n.Value) <= n.Tolerance+1e-9*math.Abs(n.Value)
}

// Unsupported returns the numbers of text that no grounded value supports.
func (g Grounds) Unsupported(text string) []Number {
	var out []Number
	for _, n := range ExtractNumbers(text) {
		if !g.Supports(n) {
			out = append(out, n)
		}
	}
	return out
}
