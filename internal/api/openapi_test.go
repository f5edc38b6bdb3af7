package api

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/internal/store"
)

// openAPIRoutes reads "METHOD /path" for every operation under paths: in
// an OpenAPI YAML file. It relies on the file's layout: path keys indented
// two spaces, their operations four.
func openAPIRoutes(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var routes []string
	inPaths, path := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			inPaths = line == "paths:"
			continue
		}
		if !inPaths {
			continue
		}
		if k, ok := strings.CutPrefix(line, "  "); ok && strings.HasPrefix(k, "/") {
			path = strings.TrimSuffix(k, ":")
			continue
		}
		if k, ok := strings.CutPrefix(line, "    "); ok && !strings.HasPrefix(k, " ") {
			m := strings.TrimSuffix(k, ":")
			switch m {
			case "get", "post", "put", "patch", "delete", "head", "options":
				routes = append(routes, strings.ToUpper(m)+" "+path)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return routes
}

// TestOpenAPICoversRoutes checks that docs/openapi.yaml documents every
// route the API serves, and nothing else.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	documented := openAPIRoutes(t, "../../docs/openapi.yaml")
	if len(documented) == 0 {
		t.Fatal("no operations found in docs/openapi.yaml")
	}
	a, err := New(Config{Store: nopStore{}})
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, rt := range a.routes {
		served = append(served, rt.method+" "+rt.path)
	}
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not in docs/openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("%s is in docs/openapi.yaml but not served", r)
		}
	}
	slices.Sort(documented)
	if d := slices.Compact(slices.Clone(documented)); len(d) != len(documented) {
		t.Errorf("docs/openapi.yaml documents an operation twice: %v", documented)
	}
}

// nopStore satisfies store.Store for tests that never call it.
type nopStore struct{ store.Store }

// TestServeOpenAPI checks that GET /api/v1/openapi.yaml answers, without an
// API key, exactly the bytes of docs/openapi.yaml, and that other methods
// on it still need a key.
func TestServeOpenAPI(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tb := setup(t, nil)
	resp, err := http.Get(tb.url + "/api/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Errorf("GET /api/v1/openapi.yaml: %d, %d bytes; want 200 and the %d bytes of docs/openapi.yaml", resp.StatusCode, len(got), len(want))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	// Without a key, only the document is public.
	if r := tb.doKey(t, "", "GET", "/api/v1/endpoints", nil); r.status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/endpoints without a key: %d, want 401", r.status)
	}
	if r := tb.doKey(t, "", "POST", "/api/v1/openapi.yaml", nil); r.status != http.StatusUnauthorized {
		t.Errorf("POST /api/v1/openapi.yaml without a key: %d, want 401", r.status)
	}
}
