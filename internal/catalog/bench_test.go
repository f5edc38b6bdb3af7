package catalog

import "testing"

// BenchmarkValidate measures the check of an enforced event's payload
// against a compiled schema: decoding with exact numbers, then validating.
func BenchmarkValidate(b *testing.B) {
	sch, err := Compile([]byte(`{"type":"object","required":["id","amount","lines"],"properties":{
		"id":{"type":"string","pattern":"^in_"},"amount":{"type":"integer","minimum":0},
		"lines":{"type":"array","items":{"type":"object","required":["sku","qty"],"properties":{"sku":{"type":"string"},"qty":{"type":"integer"}}}}}}`))
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"id":"in_1","amount":123456789012345678901234567890,"lines":[{"sku":"a","qty":1},{"sku":"b","qty":2},{"sku":"c","qty":3}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if v := validate(sch, "invoice.paid", payload); v != nil {
			b.Fatal(v)
		}
	}
}
