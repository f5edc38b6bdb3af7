package signature

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A Message is what a sender signs.
type Message struct {
	// ID identifies the message; retries of a message keep it. Schemes
	// that sign it (standard, and custom templates with {id}) require it,
	// and Standard Webhooks forbids "." in it.
	ID string

	// Timestamp is the time of this delivery attempt; schemes that sign a
	// timestamp use its Unix seconds. The zero value means time.Now().
	Timestamp time.Time

	// Payload is the JSON text (or other body) as the event's producer
	// gave it.
	Payload []byte
}

// Signed is a signed message, ready to send.
type Signed struct {
	// Body is the exact bytes to send as the request body: the payload
	// itself, or for schemes that sign a serialization, that serialization.
	// Send these bytes and no others.
	Body []byte

	// Header holds the signature header and the ID and timestamp headers
	// the scheme signs with it. Copy them into the request.
	Header http.Header
}

// Sign signs msg with secrets, newest first. Schemes that carry several
// signatures in one header (standard, stripe) sign with every secret, so that
// receivers still holding an older secret keep verifying during a rotation;
// the others sign with secrets[0] only. A Standard Webhooks whsk_ secret key
// signs a v1a Ed25519 signature, a whsec_ secret a v1 HMAC.
//
// The body is the payload unchanged for schemes that sign the raw body,
// JSON.stringify(JSON.parse(payload)) for plextrac, and json.dumps of it
// for teak; Sign returns a [*jsoncanon.SyntaxError] (wrapped) if the payload
// must be re-serialized and is not JSON. Secret errors wrap [ErrSecret].
func (s *Scheme) Sign(msg Message, secrets ...string) (Signed, error) {
	if len(secrets) == 0 {
		return Signed{}, fmt.Errorf("signature: %s: sign: %w: no secrets given", s.name, ErrSecret)
	}
	if s.format != formatStandard && s.format != formatStripe {
		secrets = secrets[:1]
	}
	if s.needsID() {
		if msg.ID == "" {
			return Signed{}, fmt.Errorf("signature: %s: sign: message ID required", s.name)
		}
		if s.format == formatStandard && strings.IndexByte(msg.ID, '.') >= 0 {
			return Signed{}, fmt.Errorf("signature: %s: sign: message ID must not contain '.'", s.name)
		}
	}
	if !validHeaderValue(msg.ID) {
		return Signed{}, fmt.Errorf("signature: %s: sign: message ID contains a control character", s.name)
	}
	body, err := serializeBody(s.serial, msg.Payload)
	if err != nil {
		return Signed{}, fmt.Errorf("signature: %s: sign: payload: %w", s.name, err)
	}
	if s.serial == serialRaw {
		body = append([]byte(nil), msg.Payload...)
	}
	ts := msg.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	tsText := strconv.AppendInt(nil, ts.Unix(), 10)
	var sigs []string
	var content []byte
	for i, sec := range secrets {
		k := prepareKey(s.key, sec)
		if k.err == nil && k.isEd25519() && (s.format != formatStandard || k.priv == nil) {
			if k.priv == nil {
				k = &key{err: errors.New("a public key cannot sign")}
			} else {
				k = &key{err: errEdNotHere}
			}
		}
		if k.err != nil {
			return Signed{}, secretError(s.name, i, len(secrets), k.err)
		}
		if k.isEd25519() {
			if content == nil {
				content = s.appendContent(nil, msg.ID, tsText, body)
			}
			sig := ed25519.Sign(k.priv, content)
			sigs = append(sigs, "v1a,"+base64.StdEncoding.EncodeToString(sig))
			continue
		}
		sc := scratchPool.Get().(*scratch)
		enc := string(s.enc.appendEncode(nil, s.mac(k, sc, msg.ID, tsText, body)))
		sc.release()
		switch s.format {
		case formatStandard:
			sigs = append(sigs, "v1,"+enc)
		case formatStripe:
			sigs = append(sigs, "v1="+enc)
		default:
			sigs = append(sigs, s.prefix+enc)
		}
	}
	hs := s.sets[0]
	h := make(http.Header, 3)
	if hs.id != "" {
		h.Set(hs.id, msg.ID)
	}
	if hs.ts != "" {
		h.Set(hs.ts, string(tsText))
	}
	switch s.format {
	case formatStandard:
		h.Set(hs.sig, strings.Join(sigs, " "))
	case formatStripe:
		h.Set(hs.sig, "t="+string(tsText)+","+strings.Join(sigs, ","))
	default:
		h.Set(hs.sig, sigs[0])
	}
	if s.idHdr != "" && msg.ID != "" {
		h.Set(s.idHdr, msg.ID)
	}
	return Signed{Body: body, Header: h}, nil
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
