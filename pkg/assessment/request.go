package assessment

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"
)

// RequestSchemaPath is the embedded JSON Schema's file name inside SchemaFS.
const RequestSchemaPath = "schema/assessment-request.schema.json"

// requestSchemaURL is the schema's $id; the compiler resolves refs against it.
const requestSchemaURL = "https://infra-mind.dev/schemas/assessment-request.schema.json"

// SchemaFS holds the assessment request JSON Schema (draft 2020-12), so the
// gateway can serve it and tests can compare it with the published copy.
//
//go:embed schema/assessment-request.schema.json
var SchemaFS embed.FS

// RequestSchema returns the assessment request JSON Schema document.
func RequestSchema() []byte {
	b, err := SchemaFS.ReadFile(RequestSchemaPath)
	if err != nil {
		// The file is embedded at build time; failing to read it is a broken build.
		panic(fmt.Sprintf("embedded request schema missing: %v", err))
	}
	return b
}

// compiledSchema compiles the embedded schema once per process. It is a
// lazily computed constant, not mutable state: every caller gets the same
// immutable *jsonschema.Schema.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(RequestSchema()))
	if err != nil {
		return nil, fmt.Errorf("decode request schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(requestSchemaURL, doc); err != nil {
		return nil, fmt.Errorf("add request schema: %w", err)
	}
	sch, err := c.Compile(requestSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("compile request schema: %w", err)
	}
	return sch, nil
})

// FieldError is one problem with a request: the field it is about and why.
type FieldError struct {
	// Field is the path of the offending value, like
	// "workloads[0].peak_requests_per_second"; empty for the document itself.
	Field string `json:"field"`
	// Reason says in plain words what is wrong.
	Reason string `json:"reason"`
}

// ValidationError lists every problem found in a request.
type ValidationError struct {
	Errors []FieldError
}

// Error joins the problems into one line.
func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, fe := range e.Errors {
		field := fe.Field
		if field == "" {
			field = "request"
		}
		parts = append(parts, field+": "+fe.Reason)
	}
	return "invalid assessment request: " + strings.Join(parts, "; ")
}

func invalid(field, reason string) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Field: field, Reason: reason}}}
}

// ParseRequest decodes a JSON or YAML document (YAML via sigs.k8s.io/yaml),
// validates it against the schema and returns the proto. Errors are
// *ValidationError listing each problem with its field path and reason.
func ParseRequest(doc []byte) (*inframindv1.AssessmentRequest, error) {
	sch, err := compiledSchema()
	if err != nil {
		return nil, err
	}
	jsonDoc, instance, verr := decodeDocument(doc)
	if verr != nil {
		return nil, verr
	}
	if err := sch.Validate(instance); err != nil {
		var se *jsonschema.ValidationError
		if !errors.As(err, &se) {
			return nil, fmt.Errorf("validate assessment request: %w", err)
		}
		return nil, &ValidationError{Errors: schemaFieldErrors(se, instance)}
	}
	req := &inframindv1.AssessmentRequest{}
	if err := protojson.Unmarshal(jsonDoc, req); err != nil {
		// The schema admits only what the proto can hold, so this is a
		// mismatch between the two, reported as the user's field if possible.
		return nil, invalid("", "does not match the request format: "+err.Error())
	}
	if fes := semanticErrors(req); len(fes) > 0 {
		return nil, &ValidationError{Errors: fes}
	}
	return req, nil
}

// decodeDocument returns doc as JSON bytes and as a generic value with exact
// numbers (json.Number), the form the schema validator expects.
func decodeDocument(doc []byte) ([]byte, any, *ValidationError) {
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 {
		return nil, nil, invalid("", "the request body is empty")
	}
	jsonDoc := trimmed
	if trimmed[0] != '{' && trimmed[0] != '[' {
		j, err := yaml.YAMLToJSON(trimmed)
		if err != nil {
			if reason, ok := nonFiniteYAML(doc, err); ok {
				return nil, nil, invalid("", reason)
			}
			return nil, nil, invalid("", "not valid YAML: "+strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "))
		}
		jsonDoc = j
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(jsonDoc))
	if err != nil {
		return nil, nil, invalid("", "not valid JSON: "+jsonSyntaxReason(doc, bytes.Index(doc, trimmed), err))
	}
	if field, dup := duplicateKey(jsonDoc); dup {
		// Decoders keep the last of two equal keys silently; which one the
		// user meant cannot be known, so neither is taken.
		return nil, nil, invalid(field, "is given more than once")
	}
	if fes := NumberErrors(instance); len(fes) > 0 {
		return nil, nil, &ValidationError{Errors: fes}
	}
	return jsonDoc, instance, nil
}

// yamlNonFinite matches YAML's spellings of NaN and the infinities as a
// value: after a key, a list dash, or inside a flow collection.
var yamlNonFinite = regexp.MustCompile(`(?:^|[:\[,\-{]\s*)([-+]?\.(?:nan|NaN|NAN|inf|Inf|INF))\s*(?:$|[,\]}#])`)

// nonFiniteYAML explains a YAML document that failed to become JSON because
// it holds .nan or .inf: no request figure is NaN or infinite, and the
// converter's own message ("json: unsupported value: NaN") says neither
// where nor why.
func nonFiniteYAML(doc []byte, err error) (string, bool) {
	msg := err.Error()
	if !strings.HasSuffix(msg, "unsupported value: NaN") && !strings.HasSuffix(msg, "unsupported value: +Inf") &&
		!strings.HasSuffix(msg, "unsupported value: -Inf") {
		return "", false
	}
	for i, line := range strings.Split(string(doc), "\n") {
		if m := yamlNonFinite.FindStringSubmatch(line); m != nil {
			return fmt.Sprintf("line %d: %s is not a finite number; every number in a request must be finite", i+1, m[1]), true
		}
	}
	return "a number is .nan or .inf; every number in a request must be finite", true
}

// duplicateKey finds the first object key that appears twice in the same
// object of a valid JSON document and returns its field path.
func duplicateKey(doc []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		path  string
		keys  map[string]bool // nil for arrays
		index int
		key   string // the key whose value comes next, in an object
	}
	var stack []*frame
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.keys == nil {
			p := fmt.Sprintf("%s[%d]", f.path, f.index)
			f.index++
			return p
		}
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
	}
	expectKey := func() bool {
		if len(stack) == 0 {
			return false
		}
		f := stack[len(stack)-1]
		return f.keys != nil && f.key == ""
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // io.EOF: the document was already checked to be valid JSON
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{path: child(), keys: map[string]bool{}})
			case '[':
				stack = append(stack, &frame{path: child()})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].keys != nil {
					stack[len(stack)-1].key = ""
				}
			}
		case string:
			if expectKey() {
				f := stack[len(stack)-1]
				if f.keys[t] {
					if f.path == "" {
						return t, true
					}
					return f.path + "." + t, true
				}
				f.keys[t] = true
				f.key = t
				continue
			}
			child()
			if len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].key = ""
			}
		default:
			child()
			if len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].key = ""
			}
		}
	}
}

// jsonSyntaxReason turns a decoder error into "line N, column M: ..." so the
// user can find the mistake; the decoder read doc from byte lead on (after
// the leading white space), so its offset counts from there.
func jsonSyntaxReason(doc []byte, lead int, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 && lead+int(se.Offset) <= len(doc) {
		before := doc[:lead+int(se.Offset)]
		line := bytes.Count(before, []byte("\n")) + 1
		col := int(se.Offset) - bytes.LastIndexByte(before, '\n') - 1
		return fmt.Sprintf("line %d, column %d: %s", line, col, se.Error())
	}
	return err.Error()
}

// printer renders the library's fallback messages; it carries no state.
func printer() *message.Printer { return message.NewPrinter(language.English) }

// schemaFieldErrors flattens the validator's error tree into one FieldError
// per leaf problem, sorted by field.
func schemaFieldErrors(root *jsonschema.ValidationError, instance any) []FieldError {
	var out []FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		loc := e.InstanceLocation
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			reason := "is required"
			if strings.Contains(e.SchemaURL, "/then") {
				reason = "is required when " + conditionAt(instance, loc)
			}
			for _, m := range k.Missing {
				out = append(out, FieldError{Field: fieldPath(instance, append(slices.Clone(loc), m)), Reason: reason})
			}
			return
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				out = append(out, FieldError{Field: fieldPath(instance, append(slices.Clone(loc), p)), Reason: "is not a known field"})
			}
			return
		case *kind.DependentRequired:
			for _, m := range k.Missing {
				out = append(out, FieldError{
					Field:  fieldPath(instance, append(slices.Clone(loc), m)),
					Reason: "is required when " + k.Prop + " is given",
				})
			}
			return
		case *kind.AnyOf:
			if alts, ok := requiredAlternatives(e); ok {
				out = append(out, FieldError{
					Field:  fieldPath(instance, append(slices.Clone(loc), alts[0])),
					Reason: fmt.Sprintf("kind %s needs %s", kindAt(instance, loc), orList(alts)),
				})
				return
			}
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, FieldError{Field: fieldPath(instance, loc), Reason: leafReason(e.ErrorKind)})
	}
	walk(root)
	slices.SortStableFunc(out, func(a, b FieldError) int {
		if c := strings.Compare(a.Field, b.Field); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return slices.Compact(out)
}

// requiredAlternatives recognises "anyOf: [{required:[a]}, {required:[b]}]",
// the schema's way of saying "a or b", and returns [a b].
func requiredAlternatives(e *jsonschema.ValidationError) ([]string, bool) {
	var alts []string
	for _, c := range e.Causes {
		leaf := c
		for len(leaf.Causes) == 1 {
			leaf = leaf.Causes[0]
		}
		r, ok := leaf.ErrorKind.(*kind.Required)
		if !ok || len(leaf.Causes) != 0 {
			return nil, false
		}
		alts = append(alts, r.Missing...)
	}
	return alts, len(alts) > 0
}

// leafReason says what a single failed keyword means, in plain words.
func leafReason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		want := strings.Join(k.Want, " or ")
		if want == "integer" && k.Got == "number" {
			return "must be a whole number"
		}
		if want == "string" && k.Got == "boolean" {
			// YAML 1.1 reads yes/no/on/off as booleans, so region "no" (Norway) arrives as false.
			return `must be text, not true/false (in YAML, quote values such as "no", "yes", "on" or "off")`
		}
		switch want {
		case "integer":
			want = "a whole number"
		case "number":
			want = "a number"
		case "object":
			want = "an object (a mapping of fields)"
		case "array":
			want = "a list"
		case "string":
			want = "text"
		}
		return fmt.Sprintf("must be %s, not %s", want, typeName(k.Got))
	case *kind.Enum:
		want := make([]string, 0, len(k.Want))
		for _, w := range k.Want {
			want = append(want, fmt.Sprint(w))
		}
		return fmt.Sprintf("must be one of %s (got %q)", strings.Join(want, ", "), fmt.Sprint(k.Got))
	case *kind.Minimum:
		return MinimumReason(k.Want, k.Got)
	case *kind.ExclusiveMinimum:
		if k.Want.Sign() == 0 {
			return "must be greater than 0 (got " + RatString(k.Got) + ")"
		}
		return "must be greater than " + RatString(k.Want) + " (got " + RatString(k.Got) + ")"
	case *kind.Maximum:
		return "must be at most " + RatString(k.Want) + " (got " + RatString(k.Got) + ")"
	case *kind.ExclusiveMaximum:
		return "must be less than " + RatString(k.Want) + " (got " + RatString(k.Got) + ")"
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long (got %d)", k.Want, k.Got)
	case *kind.MinItems:
		if k.Want == 1 {
			return "must list at least one entry"
		}
		return fmt.Sprintf("must list at least %d entries (got %d)", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must list at most %d entries (got %d)", k.Want, k.Got)
	case *kind.UniqueItems:
		return fmt.Sprintf("lists the same value twice (entries %d and %d)", k.Duplicates[0], k.Duplicates[1])
	case *kind.Pattern:
		if hint, ok := patternHint(k.Want); ok {
			return fmt.Sprintf("%q %s", k.Got, hint)
		}
		return fmt.Sprintf("%q has an invalid format (it must match %s)", k.Got, k.Want)
	default:
		return k.LocalizedString(printer())
	}
}

// patternHint explains the schema's patterns in words.
func patternHint(pattern string) (string, bool) {
	switch pattern {
	case "^[a-z]{2}$":
		return "is not a two-letter lowercase region code such as us, eu or in", true
	case "^[a-z0-9][a-z0-9._-]*$":
		return "is not a model id: use lowercase letters, digits, '.', '_' and '-', like llama-3.1-70b", true
	}
	return "", false
}

func typeName(got string) string {
	switch got {
	case "null":
		return "empty (null)"
	case "boolean":
		return "true/false"
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "string":
		return "text"
	default:
		return "a " + got
	}
}

// MinimumReason says a number is below the schema's minimum. A floor above
// 0 is a physical one (an MFU of at least 0.01), so a value of 0 or less is
// told both that it must be greater than 0 and how far.
func MinimumReason(want, got *big.Rat) string {
	if want != nil && got != nil && want.Sign() > 0 && got.Sign() <= 0 {
		return "must be greater than 0: at least " + RatString(want) + " (got " + RatString(got) + ")"
	}
	return "must be at least " + RatString(want) + " (got " + RatString(got) + ")"
}

// RatString prints a schema bound or a request's number the way a person
// writes it: 0.000001 rather than 1e-06, 1e-7 rather than 1e-07, and 1e400
// rather than +Inf for a number float64 cannot hold.
func RatString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() && r.Num().IsInt64() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	var s string
	switch a := math.Abs(f); {
	case a >= 1e-6 && a < 1e21:
		return strconv.FormatFloat(f, 'f', -1, 64)
	case a != 0 && !math.IsInf(f, 0):
		s = strconv.FormatFloat(f, 'g', -1, 64)
	default:
		s = new(big.Float).SetRat(r).Text('g', 6)
	}
	return strings.NewReplacer("e+0", "e", "e-0", "e-", "e+", "e").Replace(s)
}

// fieldPath renders an instance location as "workloads[0].name": tokens that
// index a list become [i], the rest are joined with dots.
func fieldPath(instance any, loc []string) string {
	var b strings.Builder
	cur := instance
	for _, tok := range loc {
		switch v := cur.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
			if m, ok := v.(map[string]any); ok {
				cur = m[tok]
			} else {
				cur = nil
			}
		}
	}
	return b.String()
}

// orList joins alternatives as "a or b" or "a, b or c".
func orList(alts []string) string {
	if len(alts) < 2 {
		return strings.Join(alts, "")
	}
	return strings.Join(alts[:len(alts)-1], ", ") + " or " + alts[len(alts)-1]
}

// conditionAt names the schema condition that made a field required, from
// the object at loc: a workload's kind or an architecture's attention.
func conditionAt(instance any, loc []string) string {
	if a, ok := stringAt(instance, loc, "attention"); ok {
		return "attention is " + a
	}
	return "kind is " + kindAt(instance, loc)
}

// stringAt returns the text field key of the object at loc.
func stringAt(instance any, loc []string, key string) (string, bool) {
	cur := instance
	for _, tok := range loc {
		switch v := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return "", false
			}
			cur = v[i]
		case map[string]any:
			cur = v[tok]
		default:
			return "", false
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := m[key].(string)
	return s, ok
}

// kindAt returns the "kind" of the workload object at loc.
func kindAt(instance any, loc []string) string {
	if k, ok := stringAt(instance, loc, "kind"); ok {
		return k
	}
	return "this"
}
