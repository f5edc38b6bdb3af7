package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// benchBody returns a JSON document of exactly n bytes.
func benchBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"invoice.paid","items":[`)
	for i := 0; b.Len() < n-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"sku":"SKU-%06d","price":%d.99}`, i, i, i%500)
	}
	b.WriteString(`],"note":"`)
	for b.Len() < n-2 {
		b.WriteByte('x')
	}
	b.WriteString(`"}`)
	return b.Bytes()
}

var benchSizes = []struct {
	name string
	n    int
}{{"1KB", 1 << 10}, {"64KB", 64 << 10}}

// BenchmarkVerify measures verifying a request whose header carries two
// signatures (a rotation: the receiver's secret made the second) where the
// scheme allows several (standard, stripe), next to a bare crypto/hmac
// computation and hmac.Equal over the same signed bytes, and next to the
// Standard Webhooks and Svix Go libraries verifying the same request.
func BenchmarkVerify(b *testing.B) {
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a benchmark key of 32 bytes....."))
	older := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the previous key, also 32 bytes!"))
	for _, size := range benchSizes {
		body := benchBody(size.n)
		now := time.Now()
		ts := strconv.FormatInt(now.Unix(), 10)
		b.Run(size.name+"/baseline-hmac", func(b *testing.B) {
			key, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
			m := hmac.New(sha256.New, key)
			m.Write([]byte(id + "." + ts + "."))
			m.Write(body)
			want := m.Sum(nil)
			prefix := []byte(id + "." + ts + ".")
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				m := hmac.New(sha256.New, key)
				m.Write(prefix)
				m.Write(body)
				if !hmac.Equal(m.Sum(nil), want) {
					b.Fatal("mismatch")
				}
			}
		})
		for _, name := range []string{"standard", "stripe", "github", "plextrac"} {
			s := mustLookup(b, name)
			sec := secret
			if name != "standard" {
				sec = "a benchmark secret"
			}
			signWith := []string{sec} // one signature where the scheme carries one
			switch name {
			case "standard":
				signWith = []string{older, sec}
			case "stripe":
				signWith = []string{"older " + sec, sec}
			}
			sg, err := s.Sign(Message{ID: id, Timestamp: now, Payload: body}, signWith...)
			if err != nil {
				b.Fatal(err)
			}
			secrets := []string{sec}
			b.Run(size.name+"/"+name, func(b *testing.B) {
				if err := s.Verify(sg.Header, sg.Body, secrets, nil); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if err := s.Verify(sg.Header, sg.Body, secrets, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
			if name == "standard" {
				b.Run(size.name+"/peer-standardwebhooks", func(b *testing.B) {
					wh, err := standardwebhooks.NewWebhook(sec)
					if err != nil {
						b.Fatal(err)
					}
					if err := wh.Verify(sg.Body, sg.Header); err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(body)))
					b.ReportAllocs()
					for b.Loop() {
						if err := wh.Verify(sg.Body, sg.Header); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(size.name+"/peer-svix", func(b *testing.B) {
					wh, err := svix.NewWebhook(sec)
					if err != nil {
						b.Fatal(err)
					}
					if err := wh.Verify(sg.Body, sg.Header); err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(body)))
					b.ReportAllocs()
					for b.Loop() {
						if err := wh.Verify(sg.Body, sg.Header); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkVerifyVsHMAC runs Verify and a bare crypto/hmac check over the
// same signed bytes alternately, one call each per iteration, and reports
// the median of the per-iteration ratios of their times ("x-hmac"), so that
// load from other processes, which skews benchmarks run one after the other,
// affects both sides alike.
// Its ns/op and allocations are those of the pair.
func BenchmarkVerifyVsHMAC(b *testing.B) {
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	for _, size := range benchSizes {
		body := benchBody(size.n)
		for _, name := range []string{"standard", "stripe", "github", "shopify", "plextrac"} {
			s := mustLookup(b, name)
			sec := secretFor(s)
			now := time.Now()
			signWith := []string{sec}
			if s.format != formatSingle {
				other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the previous key, also 32 bytes!"))
				signWith = []string{other, sec} // two signatures in the header
			}
			sg, err := s.Sign(Message{ID: id, Timestamp: now, Payload: body}, signWith...)
			if err != nil {
				b.Fatal(err)
			}
			// The bare check: the same bytes, the same key, the MAC decoded
			// beforehand.
			key := newKey(s.key, sec).hmac
			ts := strconv.FormatInt(now.Unix(), 10)
			prefix := map[string]string{"standard": id + "." + ts + ".", "stripe": ts + "."}[name]
			m := hmac.New(sha256.New, key)
			m.Write([]byte(prefix))
			m.Write(sg.Body)
			want := m.Sum(nil)
			secrets := []string{sec}
			bare := func() {
				m := hmac.New(sha256.New, key)
				m.Write([]byte(prefix))
				m.Write(sg.Body)
				if !hmac.Equal(m.Sum(nil), want) {
					b.Fatal("mismatch")
				}
			}
			verify := func() {
				if err := s.Verify(sg.Header, sg.Body, secrets, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.Run(size.name+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				var tv, th time.Duration
				var ratios []float64
				n := 0
				for b.Loop() {
					// Alternate which goes first, so neither always runs
					// with the other's cache state.
					t1 := time.Now()
					if n%2 == 0 {
						bare()
					} else {
						verify()
					}
					t2 := time.Now()
					if n%2 == 0 {
						verify()
					} else {
						bare()
					}
					t3 := time.Now()
					dh, dv := t2.Sub(t1), t3.Sub(t2)
					if n%2 != 0 {
						dh, dv = dv, dh
					}
					th, tv = th+dh, tv+dv
					ratios = append(ratios, float64(dv)/float64(dh))
					n++
				}
				slices.Sort(ratios)
				b.ReportMetric(ratios[len(ratios)/2], "x-hmac")
				b.ReportMetric(float64(tv)/float64(n), "verify-ns/op")
				b.ReportMetric(float64(th)/float64(n), "hmac-ns/op")
			})
		}
	}
}

// BenchmarkVerifySlowPaths measures the paths that are not the common
// case: a serialization scheme whose wire body is not the signed bytes (it
// is re-serialized), and Ed25519 (v1a) signatures.
func BenchmarkVerifySlowPaths(b *testing.B) {
	for _, size := range benchSizes {
		body := benchBody(size.n)
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, body, "", "  "); err != nil {
			b.Fatal(err)
		}
		pt := mustLookup(b, "plextrac")
		sg, _ := pt.Sign(Message{Payload: body}, "k")
		b.Run(size.name+"/plextrac-reserialized", func(b *testing.B) {
			if err := pt.Verify(sg.Header, pretty.Bytes(), []string{"k"}, nil); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				_ = pt.Verify(sg.Header, pretty.Bytes(), []string{"k"}, nil)
			}
		})
		std := mustLookup(b, "standard")
		sk, pk, _ := GenerateKeyPair()
		esg, _ := std.Sign(Message{ID: "msg_1", Timestamp: time.Now(), Payload: body}, sk)
		b.Run(size.name+"/standard-v1a", func(b *testing.B) {
			if err := std.Verify(esg.Header, esg.Body, []string{pk}, nil); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				_ = std.Verify(esg.Header, esg.Body, []string{pk}, nil)
			}
		})
	}
}

// BenchmarkSign measures signing for delivery.
func BenchmarkSign(b *testing.B) {
	body := benchBody(1 << 10)
	for _, name := range []string{"standard", "github", "plextrac"} {
		s := mustLookup(b, name)
		sec := secretFor(s)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(Message{ID: "msg_1", Timestamp: t0, Payload: body}, sec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
