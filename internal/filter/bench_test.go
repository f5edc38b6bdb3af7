package filter

import (
	"fmt"
	"testing"
)

var benchPayload = []byte(`{"type":"invoice.paid","data":{"id":"in_1NkXyZ2eZvKYlo2C","amount":129900,"currency":"usd","customer":"cus_9s6XKzkNRiz8i3","lines":[{"sku":"sku_1","qty":2}]}}`)

// BenchmarkMatch100 decodes a payload once and evaluates 100 filters on
// it, as fan-out does for a tenant of 100 endpoints with filters.
func BenchmarkMatch100(b *testing.B) {
	fs := make([]*Filter, 100)
	for i := range fs {
		f, err := Parse(fmt.Appendf(nil, `{"type": {"$startsWith": "invoice."}, "data": {"amount": {"$gte": %d}, "currency": {"$in": ["usd", "eur"]}}}`, i))
		if err != nil {
			b.Fatal(err)
		}
		fs[i] = f
	}
	b.ReportAllocs()
	for b.Loop() {
		v, err := Decode(benchPayload)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range fs {
			if !f.MatchValue(v) {
				b.Fatal("no match")
			}
		}
	}
}

// BenchmarkParse compiles a filter, what FilterCache saves per event.
func BenchmarkParse(b *testing.B) {
	text := []byte(`{"type": {"$startsWith": "invoice."}, "data": {"amount": {"$gte": 100}, "currency": {"$in": ["usd", "eur"]}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}
