package filter

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// matchCases are filters, payloads and whether they match; fuzzing seeds
// from them too.
var matchCases = []struct {
	name, filter, payload string
	want                  bool
}{
	{"empty filter", `{}`, `{"a":1}`, true},
	{"equal string", `{"status":"paid"}`, `{"status":"paid"}`, true},
	{"unequal string", `{"status":"paid"}`, `{"status":"open"}`, false},
	{"absent field", `{"status":"paid"}`, `{}`, false},
	{"two fields", `{"status":"paid","currency":"usd"}`, `{"status":"paid","currency":"eur"}`, false},
	{"nested object", `{"customer":{"tier":"premium"}}`, `{"customer":{"tier":"premium","id":7}}`, true},
	{"dotted path", `{"customer.tier":"premium"}`, `{"customer":{"tier":"premium"}}`, true},
	{"dotted path absent", `{"customer.tier":"premium"}`, `{"customer":"premium"}`, false},
	// Numbers are exact decimals.
	{"big integers differ", `{"n":12345678901234567890}`, `{"n":12345678901234567891}`, false},
	{"big integers equal", `{"n":12345678901234567890}`, `{"n":12345678901234567890}`, true},
	{"big integer gt", `{"n":{"$gt":12345678901234567890}}`, `{"n":12345678901234567891}`, true},
	{"big integer not gt", `{"n":{"$gt":12345678901234567891}}`, `{"n":12345678901234567890}`, false},
	{"0.1 equals 0.10", `{"n":0.1}`, `{"n":0.10}`, true},
	{"1e2 equals 100", `{"n":1e2}`, `{"n":100}`, true},
	{"-0 equals 0", `{"n":0}`, `{"n":-0.0}`, true},
	{"decimal beyond float64", `{"n":{"$lt":0.30000000000000000001}}`, `{"n":0.3}`, true},
	{"decimal beyond float64 not lt", `{"n":{"$lt":0.3}}`, `{"n":0.30000000000000000001}`, false},
	{"int64 fast path negative", `{"n":{"$gt":-5}}`, `{"n":-4}`, true},
	{"int64 literal, decimal payload", `{"n":{"$lt":2}}`, `{"n":1.999}`, true},
	{"int64 literal, exponent payload", `{"n":{"$gte":200}}`, `{"n":2e2}`, true},
	{"int64 bound", `{"n":{"$lt":9223372036854775807}}`, `{"n":9223372036854775808}`, false},
	{"gte and lt", `{"amount":{"$gte":100,"$lt":500}}`, `{"amount":100}`, true},
	{"gte and lt above", `{"amount":{"$gte":100,"$lt":500}}`, `{"amount":500}`, false},
	{"lte", `{"amount":{"$lte":-1.5}}`, `{"amount":-1.50}`, true},
	{"number vs string", `{"amount":{"$gt":1}}`, `{"amount":"2"}`, false},
	{"string gt", `{"time":{"$gte":"2025-01-01T00:00:00Z"}}`, `{"time":"2025-01-02T00:00:00Z"}`, true},
	{"payload exponent beyond bound", `{"n":{"$gt":1}}`, `{"n":1e100000}`, false},
	{"payload exponent beyond bound, same text", `{"n":{"$neq":1}}`, `{"n":1e100000}`, true},
	// Membership.
	{"in", `{"status":{"$in":["pending","processing"]}}`, `{"status":"processing"}`, true},
	{"in numbers", `{"n":{"$in":[1,2.50]}}`, `{"n":2.5}`, true},
	{"not in", `{"status":{"$nin":["pending","processing"]}}`, `{"status":"paid"}`, true},
	{"nin absent", `{"status":{"$nin":["paid"]}}`, `{}`, true},
	// Existence.
	{"exists", `{"deleted_at":{"$exists":true}}`, `{"deleted_at":null}`, true},
	{"exists false", `{"deleted_at":{"$exists":false}}`, `{"deleted_at":null}`, false},
	{"exists false absent", `{"deleted_at":{"$exists":false}}`, `{}`, true},
	{"outpost $exist", `{"deleted_at":{"$exist":false}}`, `{}`, true},
	{"null equals null", `{"deleted_at":null}`, `{"deleted_at":null}`, true},
	{"null absent", `{"deleted_at":null}`, `{}`, false},
	// Strings.
	{"startsWith", `{"email":{"$startsWith":"ops@"}}`, `{"email":"ops@example.com"}`, true},
	{"endsWith", `{"email":{"$endsWith":"@example.com"}}`, `{"email":"ops@example.org"}`, false},
	{"endsWith escaped", `{"name":{"$endsWith":"é"}}`, `{"name":"caf\u00e9"}`, true},
	{"startsWith number", `{"n":{"$startsWith":"1"}}`, `{"n":12}`, false},
	// Logic.
	{"or", `{"$or":[{"status":"paid"},{"status":"shipped"}]}`, `{"status":"shipped"}`, true},
	{"or none", `{"$or":[{"status":"paid"},{"status":"shipped"}]}`, `{"status":"open"}`, false},
	{"and", `{"$and":[{"status":"active"},{"amount":{"$gte":100}}]}`, `{"status":"active","amount":99}`, false},
	{"field not in", `{"status":{"$not":{"$in":["cancelled","refunded"]}}}`, `{"status":"paid"}`, true},
	{"field not literal", `{"status":{"$not":"paid"}}`, `{"status":"paid"}`, false},
	{"object not", `{"$not":{"status":"paid"}}`, `{"status":"open"}`, true},
	{"nested or", `{"data":{"$or":[{"a":1},{"b":2}]}}`, `{"data":{"b":2}}`, true},
	{"neq", `{"status":{"$neq":"paid"}}`, `{"status":"open"}`, true},
	// Arrays: any element.
	{"array contains", `{"tags":"urgent"}`, `{"tags":["urgent","support"]}`, true},
	{"array does not contain", `{"tags":"urgent"}`, `{"tags":["support"]}`, false},
	{"array equal whole", `{"tags":["a","b"]}`, `{"tags":["a","b"]}`, true},
	{"array order matters", `{"tags":["a","b"]}`, `{"tags":["b","a"]}`, false},
	{"array any gt", `{"scores":{"$gt":90}}`, `{"scores":[10,95]}`, true},
	{"array neq is none", `{"tags":{"$neq":"urgent"}}`, `{"tags":["urgent","x"]}`, false},
	{"array of objects", `{"items":{"sku":"B"}}`, `{"items":[{"sku":"A"},{"sku":"B"}]}`, true},
	{"array of objects dotted", `{"items.sku":"C"}`, `{"items":[{"sku":"A"},{"sku":"B"}]}`, false},
	{"array of objects same element", `{"items":{"sku":"A","qty":{"$gt":1}}}`, `{"items":[{"sku":"A","qty":1},{"sku":"B","qty":5}]}`, false},
	{"top-level array", `{"id":2}`, `[{"id":1},{"id":2}]`, true},
	{"eq object", `{"a":{"$eq":{"x":1.0}}}`, `{"a":{"x":1}}`, true},
	{"eq object extra key", `{"a":{"$eq":{"x":1}}}`, `{"a":{"x":1,"y":2}}`, false},
	{"eq empty object", `{"a":{"$eq":{}}}`, `{"a":{}}`, true},
	{"scalar payload", `{"a":1}`, `5`, false},
	{"scalar payload exists false", `{"a":{"$exists":false}}`, `5`, true},
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse([]byte(tc.filter))
			if err != nil {
				t.Fatalf("Parse(%s): %v", tc.filter, err)
			}
			got, err := f.Match([]byte(tc.payload))
			if err != nil {
				t.Fatalf("Match(%s): %v", tc.payload, err)
			}
			if got != tc.want {
				t.Errorf("filter %s on %s = %v, want %v", tc.filter, tc.payload, got, tc.want)
			}
		})
	}
}

func TestMatchNotJSON(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{``, `{`, `{"a":1} x`, `not json`, `{"a":1}{}`} {
		if _, err := f.Match([]byte(p)); !errors.Is(err, ErrNotJSON) {
			t.Errorf("Match(%q) error = %v, want ErrNotJSON", p, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, MaxDepth+1) + `1` + strings.Repeat(`}`, MaxDepth+1)
	wide := `{`
	for i := range MaxNodes + 1 {
		if i > 0 {
			wide += ","
		}
		wide += `"f` + strconv.Itoa(i) + `":1`
	}
	wide += `}`
	cases := []struct {
		name, filter, path string
	}{
		{"not JSON", `{"a":`, "$.a"},
		{"not an object", `[1]`, "$"},
		{"trailing data", `{} {}`, "$"},
		{"gt of a bool", `{"data":{"$gt":true}}`, "$.data.$gt"},
		{"nested gt of an object", `{"data":{"amount":{"$gt":{}}}}`, "$.data.amount.$gt"},
		{"in not an array", `{"s":{"$in":"a"}}`, "$.s.$in"},
		{"exists not a bool", `{"s":{"$exists":1}}`, "$.s.$exists"},
		{"startsWith not a string", `{"s":{"$startsWith":1}}`, "$.s.$startsWith"},
		{"unknown operator", `{"s":{"$regex":"a"}}`, "$.s.$regex"},
		{"unknown top operator", `{"$nor":[]}`, "$.$nor"},
		{"or not an array", `{"$or":{"a":1}}`, "$.$or"},
		{"or empty", `{"$or":[]}`, "$.$or"},
		{"or element not an object", `{"$or":[{"a":1},2]}`, "$.$or[1]"},
		{"or element fault", `{"$or":[{"a":1},{"b":{"$lt":null}}]}`, "$.$or[1].b.$lt"},
		{"mixed", `{"a":{"$gt":1,"b":2}}`, "$.a"},
		{"empty condition", `{"a":{}}`, "$.a"},
		{"empty path segment", `{"a..b":1}`, `$["a..b"]`},
		{"duplicate key", `{"a":1,"a":2}`, "$.a"},
		{"not of a field", `{"a":{"$not":{"b":1}}}`, "$.a.$not.b"},
		{"exponent", `{"a":1e1001}`, "$.a"},
		{"exponent in array", `{"a":{"$in":[1,2e-5000]}}`, "$.a.$in[1]"},
		{"too deep", deep, "$" + strings.Repeat(".a", MaxDepth+1)},
		{"too large", `{"a":"` + strings.Repeat("x", MaxSize) + `"}`, "$"},
		{"too many nodes", wide, "$.f1000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.filter))
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%.60s) error = %v, want *Error", tc.filter, err)
			}
			if tc.path != "" && fe.Path != tc.path {
				t.Errorf("Parse(%.60s) path = %q, want %q (%v)", tc.filter, fe.Path, tc.path, err)
			}
			if !strings.HasPrefix(err.Error(), fe.Path+": ") {
				t.Errorf("error %q does not start with its path", err)
			}
		})
	}
}

func TestMatchValueManyFilters(t *testing.T) {
	t.Parallel()
	v, err := Decode([]byte(`{"amount":12345678901234567890.5,"tags":["a"]}`))
	if err != nil {
		t.Fatal(err)
	}
	for filter, want := range map[string]bool{
		`{"amount":{"$gt":12345678901234567890}}`:   true,
		`{"amount":{"$gt":12345678901234567890.5}}`: false,
		`{"tags":"a"}`: true,
	} {
		f, err := Parse([]byte(filter))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.MatchValue(v); got != want {
			t.Errorf("%s = %v, want %v", filter, got, want)
		}
	}
}
