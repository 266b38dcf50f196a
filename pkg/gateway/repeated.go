package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// docParam is one query parameter or header an operation of the OpenAPI
// document takes.
type docParam struct {
	In, Name string
}

// httpMethods are the keys of an OpenAPI path item that are operations.
var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

// operationParams reads, from the OpenAPI document, the query parameters
// and headers of each operation, by operationId. Every one of them is a
// single value (none is an array), so a request that repeats one is
// ambiguous: which value would count?
func operationParams(doc []byte) (map[string][]docParam, error) {
	type param struct {
		Ref  string `json:"$ref"`
		In   string `json:"in"`
		Name string `json:"name"`
	}
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("gateway: read the OpenAPI document's parameters: %w", err)
	}
	resolve := func(p param) (param, error) {
		if p.Ref == "" {
			return p, nil
		}
		got, ok := d.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
		if !ok {
			return param{}, fmt.Errorf("gateway: the OpenAPI document has no parameter %s", p.Ref)
		}
		return got, nil
	}
	out := map[string][]docParam{}
	for _, item := range d.Paths {
		var common []param
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &common); err != nil {
				return nil, fmt.Errorf("gateway: read the OpenAPI document's parameters: %w", err)
			}
		}
		for method, raw := range item {
			if !httpMethods[method] {
				continue
			}
			var op struct {
				OperationID string  `json:"operationId"`
				Parameters  []param `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("gateway: read the OpenAPI document's operation %s: %w", method, err)
			}
			for _, p := range append(append([]param(nil), common...), op.Parameters...) {
				p, err := resolve(p)
				if err != nil {
					return nil, err
				}
				if p.In == "query" || p.In == "header" {
					out[op.OperationID] = append(out[op.OperationID], docParam{In: p.In, Name: p.Name})
				}
			}
		}
	}
	return out, nil
}

// onceEach refuses a request that sends one of params more than once (two
// Idempotency-Key headers, limit=1&limit=2), naming it: the gateway's own
// parsing would take the first value and the generated wrapper would refuse
// with a problem naming no field. It runs before both.
func onceEach(params []docParam) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := repeatedParam(c.Request(), params); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// repeatedParam is the problem for the first of params r sends more than
// once, or nil.
func repeatedParam(r *http.Request, params []docParam) *Problem {
	var query map[string][]string
	for _, p := range params {
		var n int
		switch p.In {
		case "header":
			n = len(r.Header.Values(p.Name))
		case "query":
			if query == nil {
				query = r.URL.Query()
			}
			n = len(query[p.Name])
		}
		if n > 1 {
			return invalidField(p.Name, fmt.Sprintf("the %s was sent %d times; send it once", where(p.In), n))
		}
	}
	return nil
}

func where(in string) string {
	if in == "header" {
		return "header"
	}
	return "query parameter"
}
