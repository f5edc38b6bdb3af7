"""Independent signer for the inbound gateway's tests, written from the
vendors' documentation with the standard library's hmac only. It reads a
JSON array of jobs {scheme, secret, id, ts, body_b64} on stdin and writes a
JSON array of {headers, body_b64}: the request each vendor would send."""
import base64
import hashlib
import hmac
import json
import sys


def mac(key, data):
    return hmac.new(key, data, hashlib.sha256)


def sign(job):
    body = base64.b64decode(job["body_b64"])
    secret = job["secret"]
    ts = str(job["ts"])
    h = {}
    s = job["scheme"]
    if s == "github":  # docs.github.com
        h["X-Hub-Signature-256"] = "sha256=" + mac(secret.encode(), body).hexdigest()
        h["X-GitHub-Delivery"] = job["id"]
        h["X-GitHub-Event"] = "push"
    elif s == "shopify":  # shopify.dev
        h["X-Shopify-Hmac-Sha256"] = base64.b64encode(mac(secret.encode(), body).digest()).decode()
        h["X-Shopify-Webhook-Id"] = job["id"]
        h["X-Shopify-Topic"] = "orders/create"
    elif s == "stripe":  # stripe-python webhook.py: the secret as text
        h["Stripe-Signature"] = "t=%s,v1=%s" % (ts, mac(secret.encode(), ts.encode() + b"." + body).hexdigest())
    elif s == "slack":  # python-slack-sdk SignatureVerifier
        h["X-Slack-Request-Timestamp"] = ts
        h["X-Slack-Signature"] = "v0=" + mac(secret.encode(), b"v0:" + ts.encode() + b":" + body).hexdigest()
    elif s == "standard":  # standard-webhooks libraries/python
        key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
        content = job["id"].encode() + b"." + ts.encode() + b"." + body
        h["webhook-id"] = job["id"]
        h["webhook-timestamp"] = ts
        h["webhook-signature"] = "v1," + base64.b64encode(mac(key, content).digest()).decode()
    elif s == "teak":  # Teak docs: json.dumps(payload) with the defaults, base64
        body = json.dumps(json.loads(body)).encode("utf-8")
        h["X-Protecht-Signature"] = base64.b64encode(mac(secret.encode("utf-8"), body).digest()).decode()
    elif s == "teak-pretty":  # a proxy re-indented the body; the signature is over json.dumps
        payload = json.loads(body)
        sig = base64.b64encode(mac(secret.encode("utf-8"), json.dumps(payload).encode("utf-8")).digest()).decode()
        body = json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
        h["X-Protecht-Signature"] = sig
    elif s == "zoom":  # Zoom docs: x-zm-signature = v0=HMAC-hex("v0:{ts}:{body}")
        h["x-zm-request-timestamp"] = ts
        h["x-zm-signature"] = "v0=" + mac(secret.encode(), b"v0:" + ts.encode() + b":" + body).hexdigest()
    elif s == "zoom-token":  # Zoom docs: encryptedToken = HMAC-hex(secret token, plainToken)
        h["encryptedToken"] = mac(secret.encode(), body).hexdigest()
    else:
        raise ValueError("unknown scheme " + s)
    return {"headers": h, "body_b64": base64.b64encode(body).decode()}


jobs = json.load(sys.stdin)
json.dump([sign(j) for j in jobs], sys.stdout)
