package store

import (
	"fmt"
	"testing"
)

func TestPayloadMatcher(t *testing.T) {
	t.Parallel()
	var c FilterCache
	m := c.ForEvent([]byte(`{"amount": 12345678901234567891}`))
	if !m.Matches("ep_1", 1, nil) {
		t.Error("no filter does not match")
	}
	if !m.Matches("ep_1", 1, []byte(`{"amount": {"$gt": 12345678901234567890}}`)) {
		t.Error("matching filter does not match")
	}
	// Same id and time, another text (two changes in one millisecond):
	// the new text counts.
	if m.Matches("ep_1", 1, []byte(`{"amount": {"$lt": 12345678901234567890}}`)) {
		t.Error("a stale compiled filter was used")
	}
	if m.Matches("ep_2", 1, []byte(`{"amount": {"$bogus": 1}}`)) {
		t.Error("an invalid stored filter matches")
	}
	if c.ForEvent([]byte(`not json`)).Matches("ep_1", 1, []byte(`{}`)) {
		t.Error("a payload that is not JSON matches a filter")
	}
	if !c.ForEvent([]byte(`not json`)).Matches("ep_1", 1, nil) {
		t.Error("a payload that is not JSON does not pass an endpoint without a filter")
	}
}

// BenchmarkPayloadMatcher100 is what payload filters add to the fan-out of
// one event to 100 endpoints with filters, out of the database: the cache
// lookups, one decode of the payload and 100 evaluations.
func BenchmarkPayloadMatcher100(b *testing.B) {
	payload := []byte(`{"type":"invoice.paid","data":{"id":"in_1NkXyZ2eZvKYlo2C","amount":129900,"currency":"usd","customer":"cus_9s6XKzkNRiz8i3","lines":[{"sku":"sku_1","qty":2}]}}`)
	ids, texts := make([]string, 100), make([][]byte, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("ep_%03d", i)
		texts[i] = fmt.Appendf(nil, `{"type": {"$startsWith": "invoice."}, "data": {"amount": {"$gte": %d}, "currency": {"$in": ["usd", "eur"]}}}`, i)
	}
	var c FilterCache
	b.ReportAllocs()
	for b.Loop() {
		m := c.ForEvent(payload)
		for i := range ids {
			if !m.Matches(ids[i], 1, texts[i]) {
				b.Fatal("no match")
			}
		}
	}
}
