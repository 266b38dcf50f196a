package gateway

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the hand-written OpenAPI 3.1 description of this API.
// `make generate` copies it to docs/api/openapi.json and generates the Go
// types of pkg/api from it.
//
//go:embed openapi/openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document the gateway serves.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// serveOpenAPI handles GET /openapi.json (no auth: it describes, never reveals).
func serveOpenAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
