package api

import (
	"io"
	"net/http"

	"github.com/hookrelay/hookrelay/docs"
	"github.com/hookrelay/hookrelay/internal/access"
)

// openAPIPath serves docs/openapi.yaml. It is the one route that needs no
// API key: the document holds no data of the installation, only the shape
// of the API, which is public in the source anyway.
const openAPIPath = "/api/v1/openapi.yaml"

// noKey is the scope of openAPIPath's route: none, and no key either.
// ServeHTTP hands it to the router without authenticating, and wrapRoute
// serves it without a scope check or an audit entry.
const noKey access.Scope = ""

// serveOpenAPI writes the embedded OpenAPI document.
func (a *API) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := io.WriteString(w, docs.OpenAPIYAML)
	if err != nil {
		a.log.DebugContext(r.Context(), "api: write openapi document", "error", err)
	}
	return nil
}
