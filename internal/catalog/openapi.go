package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseOpenAPI reads the webhooks of an OpenAPI document, YAML or JSON:
// the "webhooks" section of OpenAPI 3.1, or "x-webhooks" of 3.0. Each
// webhook becomes a Spec named by its key, described by its operation's
// summary (or description), with the JSON Schema and the example of its
// request body's application/json content. References to
// "#/components/schemas/..." are carried along as "$defs" of the schema;
// references to components' path items and request bodies are followed.
// The specs are in name order; they are not checked (see Check).
func ParseOpenAPI(doc []byte) ([]Spec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("parse OpenAPI document: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("parse OpenAPI document: not a YAML or JSON object")
	}
	top := root.Content[0]
	text, err := nodeJSON(top, 0)
	if err != nil {
		return nil, fmt.Errorf("parse OpenAPI document: %w", err)
	}
	tree, err := decodeTree(text)
	if err != nil {
		return nil, fmt.Errorf("parse OpenAPI document: %w", err)
	}
	obj := tree.(map[string]any)
	hooks, _ := obj["webhooks"].(map[string]any)
	hooksNode := mapValue(top, "webhooks")
	if hooks == nil {
		hooks, _ = obj["x-webhooks"].(map[string]any)
		hooksNode = mapValue(top, "x-webhooks")
	}
	if hooks == nil {
		return nil, errors.New("parse OpenAPI document: no webhooks (3.1) or x-webhooks (3.0) section")
	}
	components, _ := obj["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	names := make([]string, 0, len(hooks))
	for n := range hooks {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Spec
	for _, name := range names {
		item, err := resolve(obj, hooks[name])
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", name, err)
		}
		itemNode := resolveNode(top, mapValue(hooksNode, name))
		s, err := parseItem(obj, schemas, name, item, itemNode, top)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// operations are the methods whose request body a webhook sends, in the
// order they are looked for.
var operations = []string{"post", "put", "patch"}

func parseItem(root, schemas map[string]any, name string, item map[string]any, itemNode, top *yaml.Node) (Spec, error) {
	s := Spec{Name: name}
	var op map[string]any
	var opNode *yaml.Node
	for _, m := range operations {
		if o, ok := item[m].(map[string]any); ok {
			op, opNode = o, mapValue(itemNode, m)
			break
		}
	}
	if op == nil {
		return s, errors.New("no post, put or patch operation")
	}
	for _, k := range []string{"summary", "description"} {
		for _, m := range []map[string]any{op, item} {
			if d, ok := m[k].(string); ok && d != "" && s.Description == "" {
				s.Description = strings.TrimSpace(d)
			}
		}
	}
	s.Deprecated, _ = op["deprecated"].(bool)
	body, err := resolve(root, op["requestBody"])
	if err != nil || body == nil {
		return s, err // a webhook without a body is a type without schema
	}
	bodyNode := resolveNode(top, mapValue(opNode, "requestBody"))
	content, _ := body["content"].(map[string]any)
	media, mediaType := jsonMedia(content)
	if media == nil {
		return s, nil
	}
	mediaNode := mapValue(mapValue(bodyNode, "content"), mediaType)
	if sch, ok := media["schema"]; ok {
		b, err := schemaJSON(sch, schemas)
		if err != nil {
			return s, err
		}
		s.Schema = b
	}
	// The example keeps the document's member order and number text.
	if n := mapValue(mediaNode, "example"); n != nil {
		if s.Example, err = nodeJSON(n, 0); err != nil {
			return s, err
		}
	} else if ex := mapValue(mediaNode, "examples"); ex != nil && ex.Kind == yaml.MappingNode && len(ex.Content) >= 2 {
		first := resolveNode(top, ex.Content[1])
		if v := mapValue(first, "value"); v != nil {
			if s.Example, err = nodeJSON(v, 0); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

// jsonMedia returns the application/json content, or the first JSON one
// ("application/cloudevents+json"), and its media type.
func jsonMedia(content map[string]any) (map[string]any, string) {
	if m, ok := content["application/json"].(map[string]any); ok {
		return m, "application/json"
	}
	keys := make([]string, 0, len(content))
	for k := range content {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.HasSuffix(strings.SplitN(k, ";", 2)[0], "json") {
			m, _ := content[k].(map[string]any)
			return m, k
		}
	}
	return nil, ""
}

const schemaRefPrefix = "#/components/schemas/"

// schemaJSON returns sch as a standalone JSON Schema: references to the
// document's component schemas become references to "$defs", which holds
// every component schema reached from sch.
func schemaJSON(sch any, schemas map[string]any) ([]byte, error) {
	defs := map[string]any{}
	var walk func(v any) (any, error)
	walk = func(v any) (any, error) {
		switch v := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, x := range v {
				if k == "$ref" {
					if ref, ok := x.(string); ok && strings.HasPrefix(ref, schemaRefPrefix) {
						name := strings.TrimPrefix(ref, schemaRefPrefix)
						if _, done := defs[name]; !done {
							target, ok := schemas[unescapeToken(name)]
							if !ok {
								return nil, fmt.Errorf("$ref %s: no such schema", ref)
							}
							defs[name] = nil // mark before walking, for cycles
							w, err := walk(target)
							if err != nil {
								return nil, err
							}
							defs[name] = w
						}
						out[k] = "#/$defs/" + name
						continue
					}
				}
				w, err := walk(x)
				if err != nil {
					return nil, err
				}
				out[k] = w
			}
			return out, nil
		case []any:
			out := make([]any, len(v))
			for i, x := range v {
				w, err := walk(x)
				if err != nil {
					return nil, err
				}
				out[i] = w
			}
			return out, nil
		}
		return v, nil
	}
	top, err := walk(sch)
	if err != nil {
		return nil, err
	}
	if len(defs) > 0 {
		m, ok := top.(map[string]any)
		if !ok {
			return nil, errors.New("schema: a boolean schema cannot carry $defs")
		}
		m["$defs"] = defs
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

func unescapeToken(s string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
}

// resolve follows a "$ref" to "#/components/..." in root, once.
func resolve(root map[string]any, v any) (map[string]any, error) {
	m, _ := v.(map[string]any)
	ref, ok := m["$ref"].(string)
	if !ok {
		return m, nil
	}
	target, err := lookup(root, ref)
	if err != nil {
		return nil, err
	}
	t, ok := target.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %s: not an object", ref)
	}
	return t, nil
}

func lookup(root map[string]any, ref string) (any, error) {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %s: only references within the document are followed", ref)
	}
	var cur any = root
	for _, tok := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %s: not found", ref)
		}
		if cur, ok = m[unescapeToken(tok)]; !ok {
			return nil, fmt.Errorf("$ref %s: not found", ref)
		}
	}
	return cur, nil
}

// mapValue returns the value of key in a mapping node, nil if absent.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// resolveNode follows a "$ref" to "#/..." among the nodes of top, once.
func resolveNode(top, n *yaml.Node) *yaml.Node {
	ref := mapValue(n, "$ref")
	if ref == nil {
		return n
	}
	path, ok := strings.CutPrefix(ref.Value, "#/")
	if !ok {
		return n
	}
	cur := top
	for _, tok := range strings.Split(path, "/") {
		if cur = mapValue(cur, unescapeToken(tok)); cur == nil {
			return n
		}
	}
	return cur
}

// maxDepth bounds the nesting nodeJSON follows (aliases can loop).
const maxDepth = 200

// nodeJSON writes a YAML node as JSON, numbers as their text, so that a
// big integer stays exact and an object keeps its member order.
func nodeJSON(n *yaml.Node, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errors.New("document nested too deep")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return []byte("null"), nil
		}
		return nodeJSON(n.Content[0], depth+1)
	case yaml.AliasNode:
		return nodeJSON(n.Alias, depth+1)
	case yaml.MappingNode:
		b := []byte{'{'}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			k, err := json.Marshal(n.Content[i].Value)
			if err != nil {
				return nil, err
			}
			v, err := nodeJSON(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			b = append(append(append(b, k...), ':'), v...)
		}
		return append(b, '}'), nil
	case yaml.SequenceNode:
		b := []byte{'['}
		for i, c := range n.Content {
			if i > 0 {
				b = append(b, ',')
			}
			v, err := nodeJSON(c, depth+1)
			if err != nil {
				return nil, err
			}
			b = append(b, v...)
		}
		return append(b, ']'), nil
	case yaml.ScalarNode:
		return scalarJSON(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func scalarJSON(n *yaml.Node) ([]byte, error) {
	switch n.ShortTag() {
	case "!!null":
		return []byte("null"), nil
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return strconv.AppendBool(nil, v), nil
	case "!!int", "!!float":
		if json.Valid([]byte(n.Value)) {
			return []byte(n.Value), nil // exact, as written
		}
		var f float64 // 0x1F, 1_000, 1e3 without a digit before the dot...
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
	}
	return json.Marshal(n.Value)
}

// decodeTree decodes JSON with numbers as json.Number.
func decodeTree(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
