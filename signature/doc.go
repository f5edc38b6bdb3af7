// Package signature signs and verifies webhook requests under the signature
// schemes of Standard Webhooks (and Svix), GitHub, Stripe, Shopify, Slack,
// PlexTrac and Teak, and custom schemes described by configuration.
//
// # Verifying safely
//
// A receiver must check the signature over the exact bytes it received,
// before it parses them, and compare MACs in constant time. The safe
// sequence is:
//
//  1. Look up the scheme once: s, err := signature.Lookup("github").
//  2. Read the raw body with a size limit; do not parse it, and do not let a
//     framework parse and re-serialize it first.
//  3. Call s.Verify(r.Header, body, secrets, nil). It recomputes the MAC
//     for each secret and compares with [crypto/hmac.Equal]; it never
//     compares strings with ==. It checks the signed timestamp against the
//     tolerance, so a captured request cannot be replayed later.
//  4. Only if the error is nil, parse and act on body. Answer failures with
//     a short fixed message ([Reason]), never with the expected signature.
//
// [Verifier] does steps 2 and 3 for a *http.Request ([Verifier.Check]) or as
// middleware ([Verifier.Handler], [Middleware]), and hands the verified body
// on unchanged. Senders call [Scheme.Sign] and send [Signed.Body], the exact
// bytes that were signed, with [Signed.Header].
//
// Errors are typed: [*Error] wraps one of [ErrNoSignature], [ErrMalformed],
// [ErrExpired], [ErrMismatch], [ErrReplayed] and [ErrSecret], and says what
// is wrong without the secret or the expected signature. Secrets can be
// kept in a [Secret], which redacts itself in fmt and log/slog output.
//
// # Schemes
//
// All HMACs are HMAC-SHA256. "raw" is the body exactly as sent and t a Unix
// time in seconds. Hex is accepted in either case, base64 with or without
// padding.
//
//	scheme    signature header             bytes signed               encoding  secret
//	standard  webhook-signature: v1,<sig>  {webhook-id}.{t}.{raw}     base64    whsec_ + base64 key (24-64 bytes)
//	          v1a,<sig> (Ed25519)          same; t: webhook-timestamp base64    whsk_ signs, whpk_ verifies
//	github    X-Hub-Signature-256          raw                        hex       text
//	          (sha256=<sig>)
//	stripe    Stripe-Signature             {t}.{raw}                  hex       whsec_... as text
//	          (t=<t>,v1=<sig>,v1=...)
//	shopify   X-Shopify-Hmac-Sha256        raw                        base64    text
//	slack     X-Slack-Signature            v0:{t}:{raw}; t:           hex       text
//	          (v0=<sig>)                   X-Slack-Request-Timestamp
//	plextrac  x-authorization-hmac-256     JSON.stringify(payload)    hex       text
//	teak      X-Protecht-Signature         json.dumps(payload)        base64    text
//
// Standard Webhooks also accepts the svix-id, svix-timestamp and
// svix-signature spellings of its headers.
//
// Timestamped schemes (standard, stripe, slack) refuse a timestamp more
// than 5 minutes away from the current time in either direction (Stripe's
// own library checks only the past side; this package checks both). Standard
// Webhooks and Stripe carry several space- or comma-separated signatures
// during a secret rotation; a request verifies if any of them was made with
// any of the secrets given. Versions a scheme does not know, such as
// Stripe's v0, are ignored. [Custom] describes any other HMAC-SHA256 scheme:
// its header, encoding, prefix, the bytes signed (raw, a serialization, or a
// template over {id}, {timestamp} and {body}) and its tolerance.
//
// Sources: the Standard Webhooks specification and reference libraries
// (standard-webhooks/standard-webhooks spec/standard-webhooks.md,
// libraries/go); GitHub's "Validating webhook deliveries"; stripe-go
// webhook/client.go; Slack's "Verifying requests from Slack"; PlexTrac's
// "Verifying Sender Requests"; Teak's "Using the Webhook Signature".
//
// # Schemes that sign a re-serialization
//
// PlexTrac signs JSON.stringify(payload) and Teak signs Python's
// json.dumps(payload): not the bytes on the wire, but what the sender's
// language writes for the parsed payload. Usually these are the bytes on the
// wire, and Verify costs the same as for a raw-body scheme. When they are not
// (a proxy pretty-printed the body, say), Verify re-serializes the parsed
// body exactly as the sender's language does, using package jsoncanon, and
// checks that; it accepts nothing else. [Scheme.Sign] for these schemes
// returns the serialization as the body to send, so that the wire bytes and
// the signed bytes are the same.
//
// PlexTrac's documentation offers a Python receiver that rebuilds the
// signed bytes with json.dumps(payload, separators=(',', ':')). That is not
// JSON.stringify: json.dumps leaves ensure_ascii on, so it writes "é" as
// \u00e9 where JSON.stringify writes the UTF-8 bytes, and the recipe rejects
// every genuine payload that contains a non-ASCII character (and turning
// ensure_ascii off is not enough: the two languages also differ on numbers
// and on the order of integer-like keys). This package reproduces
// JSON.stringify itself and verifies such payloads; TestPlexTracPythonRecipe
// shows both, running the recipe in Python on payloads signed by Node.js.
//
// # Asymmetric signatures
//
// Standard Webhooks' v1a signatures are Ed25519 signatures of the same
// bytes. The sender keeps a whsk_ secret key (base64 of the 32-byte seed;
// the 64-byte seed and public key that Svix stores are also read) and signs
// with it; receivers hold only the whpk_ public key (base64 of 32 bytes), so
// a leaked receiver key cannot forge requests. [GenerateKeyPair] makes a
// pair; [Scheme.Sign] with a whsk_ key writes "v1a,<base64>"; [Scheme.Verify]
// with a whpk_ key checks it.
//
// # Replays
//
// Timestamped schemes refuse old requests by their tolerance. Within the
// tolerance window, a [SeenStore] such as [MemorySeen] in [VerifyOptions]
// refuses a verbatim copy of a request already accepted, while letting the
// sender's retries (same message ID, new timestamp) through.
//
// # Diagnosing
//
// When a signature does not verify and it is not clear why, [Diagnose] tries
// every scheme, encoding, serialization and secret form this package knows
// and says which one matches, or what most likely went wrong.
package signature
