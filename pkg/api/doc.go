// Package api holds the Go types of the gateway's REST API, generated from
// its OpenAPI document (pkg/gateway/openapi/openapi.json) by `make generate`
// with oapi-codegen (configuration in oapi-codegen.yaml). It imports no
// server package, so clients of the API use it without linking the gateway.
package api
