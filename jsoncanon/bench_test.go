package jsoncanon

// Benchmarks on realistic webhook payloads, against encoding/json and Node.
//
//	go test ./jsoncanon -run '^$' -bench . -benchmem -count 3
//
// Node's speed on the same payloads, for comparison:
//
//	go test ./jsoncanon -run TestWriteBenchPayloads -bench-payloads /tmp/jsoncanon-bench
//	node jsoncanon/testdata/bench/node_bench.js /tmp/jsoncanon-bench/10KB.json /tmp/jsoncanon-bench/1MB.json
//
// Both report MB/s as 10⁶ bytes of input per second.

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

var benchPayloadDir = flag.String("bench-payloads", "", "TestWriteBenchPayloads: write the benchmark payloads into this directory")

// webhookPayload returns a deterministic Stripe-style event of about size
// bytes, pretty-printed as Stripe sends it: nested objects, ids, amounts,
// floats, non-ASCII names, escapes, nulls, booleans and arrays.
func webhookPayload(size int) []byte {
	r := rand.New(rand.NewPCG(42, uint64(size)))
	names := []string{"José Müller", "Zoë Ångström", "李小龙", "Ægir Þórsson", "Nguyễn Văn A", "O'Brien \"Bob\"", "Renée 😀", "Sam Smith"}
	cities := []string{"Zürich", "São Paulo", "Kraków", "東京", "New York", "Montréal", "Reykjavík"}
	words := []string{"Café crème", "größe L", "naïve", "résumé", "tab\there", "line\nbreak", "50% off", "<b>bold</b>", "C:\\path", "https://example.com/a?b=c&d=e"}
	id := func(prefix string) string {
		const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		b := []byte(prefix)
		for range 24 {
			b = append(b, alnum[r.IntN(len(alnum))])
		}
		return string(b)
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	var b []byte
	p := func(format string, args ...any) { b = fmt.Appendf(b, format, args...) }
	p("{\n  \"id\": %q,\n  \"object\": \"event\",\n  \"api_version\": \"2024-06-20\",\n  \"created\": %d,\n", id("evt_"), 1718000000+r.IntN(1e6))
	p("  \"data\": {\n    \"object\": {\n      \"id\": %q,\n      \"object\": \"checkout.session\",\n", id("cs_"))
	p("      \"amount_total\": %d,\n      \"currency\": \"eur\",\n      \"livemode\": false,\n", r.IntN(1e7))
	p("      \"customer_details\": {\n        \"name\": %s,\n        \"email\": \"customer%d@example.com\",\n", q(names[r.IntN(len(names))]), r.IntN(1e5))
	p("        \"address\": {\"city\": %s, \"country\": \"CH\", \"line1\": \"Bahnhofstrasse 1\", \"line2\": null, \"postal_code\": \"8001\"},\n", q(cities[r.IntN(len(cities))]))
	p("        \"tax_exempt\": \"none\",\n        \"phone\": null\n      },\n")
	p("      \"metadata\": {\"order_id\": \"%d\", \"source\": \"web\", \"note\": %s},\n", r.IntN(1e9), q(words[r.IntN(len(words))]))
	p("      \"line_items\": [\n")
	for i := 0; ; i++ {
		if i > 0 {
			p(",\n")
		}
		qty := 1 + r.IntN(5)
		unit := 100 + r.IntN(100000)
		p("        {\n          \"id\": %q,\n          \"object\": \"item\",\n", id("li_"))
		p("          \"description\": %s,\n", q(words[r.IntN(len(words))]+" – "+names[r.IntN(len(names))]))
		p("          \"quantity\": %d,\n          \"amount_subtotal\": %d,\n          \"amount_total\": %d,\n", qty, qty*unit, qty*unit*119/100)
		p("          \"price\": {\"id\": %q, \"unit_amount\": %d, \"unit_amount_decimal\": \"%d.%02d\", \"tax_rate\": %s, \"recurring\": null, \"active\": true},\n",
			id("price_"), unit, unit/100, unit%100, strconv.FormatFloat(float64(r.IntN(2500))/100, 'f', -1, 64))
		p("          \"discounts\": [],\n          \"weight_kg\": %s,\n", strconv.FormatFloat(r.Float64()*20, 'g', -1, 64))
		p("          \"tags\": [%s, %s, \"sku-%d\"],\n", q(cities[r.IntN(len(cities))]), q(words[r.IntN(len(words))]), r.IntN(1e6))
		p("          \"shipping\": {\"carrier\": \"DHL\", \"tracking\": null, \"eta_days\": %d, \"express\": %v}\n        }", r.IntN(10), r.IntN(2) == 0)
		if len(b) >= size-200 {
			break
		}
	}
	p("\n      ],\n      \"payment_status\": \"paid\",\n      \"url\": null\n    }\n  },\n")
	p("  \"livemode\": false,\n  \"pending_webhooks\": 1,\n  \"request\": {\"id\": null, \"idempotency_key\": %q},\n  \"type\": \"checkout.session.completed\"\n}\n", id("ik_"))
	return b
}

var benchPayloads = sync.OnceValue(func() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		{"10KB", webhookPayload(10 << 10)},
		{"1MB", webhookPayload(1 << 20)},
	}
})

func TestBenchPayloads(t *testing.T) {
	for _, p := range benchPayloads() {
		if !json.Valid(p.data) {
			t.Fatalf("%s payload is not valid JSON", p.name)
		}
		if _, err := JS(p.data); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		t.Logf("%s payload: %d bytes", p.name, len(p.data))
	}
}

// TestWriteBenchPayloads writes the benchmark payloads for
// testdata/bench/node_bench.js when -bench-payloads names a directory.
func TestWriteBenchPayloads(t *testing.T) {
	if *benchPayloadDir == "" {
		t.Skip("no -bench-payloads directory")
	}
	if err := os.MkdirAll(*benchPayloadDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range benchPayloads() {
		path := filepath.Join(*benchPayloadDir, p.name+".json")
		if err := os.WriteFile(path, p.data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(p.data))
	}
}

func BenchmarkJS(b *testing.B) {
	for _, p := range benchPayloads() {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(p.data)))
			b.ReportAllocs()
			buf := make([]byte, 0, 2*len(p.data))
			for b.Loop() {
				var err error
				if buf, err = AppendJS(buf[:0], p.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPython(b *testing.B) {
	for _, p := range benchPayloads() {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(p.data)))
			b.ReportAllocs()
			buf := make([]byte, 0, 2*len(p.data))
			for b.Loop() {
				var err error
				if buf, err = AppendPython(buf[:0], p.data, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodingJSONRoundTrip is the baseline: what decoding into any and
// encoding again costs with encoding/json (which does not give the right
// bytes: it sorts keys, escapes <>&, and rounds numbers its own way).
func BenchmarkEncodingJSONRoundTrip(b *testing.B) {
	for _, p := range benchPayloads() {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(p.data)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := json.Unmarshal(p.data, &v); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
