package delivery

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// sign returns the body and signature headers of an attempt of job at now:
// the payload unsigned for scheme "none" (schemes.None: the destinations of
// inbound sources whose internal services trust the network; the gateway
// has verified the sender, and X-Hookrelay-Verified says with which
// scheme), else signed afresh with the
// endpoint's scheme and secrets (the event ID as message ID, now as
// timestamp).
func (e *Engine) sign(job *store.Job, now time.Time) (signature.Signed, error) {
	ep := &job.Endpoint
	if ep.Scheme == schemes.None {
		return signature.Signed{Body: job.Event.Payload, Header: http.Header{}}, nil
	}
	scheme, err := e.schemes.get(ep)
	if err != nil {
		return signature.Signed{}, fmt.Errorf("signature scheme: %w", err)
	}
	secrets := make([]string, len(ep.Secrets))
	for i, s := range ep.Secrets {
		secrets[i] = s.Value
	}
	signed, err := scheme.Sign(signature.Message{ID: job.Event.ID, Timestamp: now, Payload: job.Event.Payload}, secrets...)
	if err != nil {
		return signature.Signed{}, fmt.Errorf("sign: %w", err)
	}
	return signed, nil
}

// notForwarded are headers an event's Headers never set on a delivery:
// they describe the connection or the body, which the client writes itself.
var notForwarded = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Proxy-Connection": true, "Expect": true,
	"Accept-Encoding": true, "Content-Encoding": true,
}

// eventHeader is the header a delivery of ev, signed as signed, is sent
// with: the signature headers, Content-Type (ev.ContentType, or
// application/json when it is empty) and User-Agent, then whichever of
// ev.Headers none of those already set.
func eventHeader(signed signature.Signed, ev *store.Event) http.Header {
	h := requestHeader(signed)
	if ev.ContentType != "" {
		h.Set("Content-Type", ev.ContentType)
	}
	for k, v := range ev.Headers {
		k = http.CanonicalHeaderKey(k)
		if _, set := h[k]; set || notForwarded[k] {
			continue
		}
		h[k] = []string{v}
	}
	return h
}
