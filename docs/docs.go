// Package docs embeds hookrelay's API description, so that the binary
// serves the very file in this directory (GET /api/v1/openapi.yaml).
package docs

import _ "embed"

// OpenAPIYAML is docs/openapi.yaml, the OpenAPI 3.1 description of the
// REST API, byte for byte.
//
//go:embed openapi.yaml
var OpenAPIYAML string
