"""Reference signer and verifier in Python, written from the vendors'
documentation with nothing but the standard library (and the cryptography
package for Ed25519, when it is installed), for differential tests of package
signature. It reads a JSON array of jobs on stdin and writes a JSON array of
results on stdout; see ref.js for the job format. It also runs PlexTrac's
documented Python receiver recipe, op "plextrac-recipe"."""

import base64
import hashlib
import hmac
import json
import re
import sys

try:
    from cryptography.hazmat.primitives.asymmetric import ed25519
except ImportError:  # Ed25519 jobs are then answered with {"skip": true}
    ed25519 = None


def mac(key, msg):
    if isinstance(key, str):
        key = key.encode("utf-8")
    return hmac.new(key, msg, hashlib.sha256).digest()


def whsec_key(secret):
    return base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)


def signed_bytes(scheme, msg_id, ts, body):
    if scheme == "standard":
        return f"{msg_id}.{ts}.".encode() + body
    if scheme == "stripe":
        return f"{ts}.".encode() + body
    if scheme == "slack":
        return f"v0:{ts}:".encode() + body
    if scheme == "teak":
        # Teak: hmac over json.dumps(payload).encode("utf-8"), defaults.
        return json.dumps(json.loads(body)).encode("utf-8")
    return body


def sign(job):
    body = base64.b64decode(job["payload_b64"])
    scheme, secret, ts, msg_id = job["scheme"], job["secret"], job.get("ts", 0), job.get("id", "")
    if scheme == "teak":
        body = json.dumps(json.loads(body)).encode("utf-8")
    msg = signed_bytes(scheme, msg_id, ts, body)
    h = {}
    if scheme == "standard":
        h["webhook-id"], h["webhook-timestamp"] = msg_id, str(ts)
        if secret.startswith("whsk_"):
            if ed25519 is None:
                return {"skip": True}
            seed = base64.b64decode(secret[len("whsk_"):])[:32]
            sig = ed25519.Ed25519PrivateKey.from_private_bytes(seed).sign(msg)
            h["webhook-signature"] = "v1a," + base64.b64encode(sig).decode()
        else:
            h["webhook-signature"] = "v1," + base64.b64encode(mac(whsec_key(secret), msg)).decode()
    elif scheme == "github":
        h["X-Hub-Signature-256"] = "sha256=" + mac(secret, msg).hex()
    elif scheme == "stripe":
        h["Stripe-Signature"] = f"t={ts},v1=" + mac(secret, msg).hex()
    elif scheme == "shopify":
        h["X-Shopify-Hmac-Sha256"] = base64.b64encode(mac(secret, msg)).decode()
    elif scheme == "slack":
        h["X-Slack-Request-Timestamp"] = str(ts)
        h["X-Slack-Signature"] = "v0=" + mac(secret, msg).hex()
    elif scheme == "teak":
        h["X-Protecht-Signature"] = base64.b64encode(mac(secret, msg)).decode()
    else:
        raise ValueError("python cannot sign " + scheme)
    return {"headers": h, "body_b64": base64.b64encode(body).decode()}


def verify(job):
    h = {k.lower(): v for k, v in job["headers"].items()}
    body = base64.b64decode(job["body_b64"])
    scheme, secret, now = job["scheme"], job["secret"], job.get("now", 0)

    def fresh(ts):
        return re.fullmatch(r"[0-9]+", ts or "") is not None and abs(now - int(ts)) <= 300

    if scheme == "standard":
        msg_id, ts, sigs = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
        if not (msg_id and sigs and fresh(ts)):
            return {"ok": False}
        msg = signed_bytes("standard", msg_id, ts, body)
        for item in sigs.split(" "):
            version, _, sig = item.partition(",")
            if version == "v1" and not secret.startswith("whpk_"):
                if hmac.compare_digest(base64.b64encode(mac(whsec_key(secret), msg)).decode(), sig):
                    return {"ok": True}
            elif version == "v1a" and secret.startswith("whpk_"):
                if ed25519 is None:
                    return {"skip": True}
                key = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(secret[len("whpk_"):]))
                try:
                    key.verify(base64.b64decode(sig), msg)
                    return {"ok": True}
                except Exception:
                    pass
        return {"ok": False}
    if scheme == "github":
        want = "sha256=" + mac(secret, body).hex()
        return {"ok": hmac.compare_digest(want.encode(), h.get("x-hub-signature-256", "").encode())}
    if scheme == "stripe":
        items = [p.split("=", 1) for p in h.get("stripe-signature", "").split(",") if "=" in p]
        ts = [v for k, v in items if k == "t"]
        if len(ts) != 1 or not fresh(ts[0]):
            return {"ok": False}
        want = mac(secret, signed_bytes("stripe", "", ts[0], body)).hex()
        return {"ok": any(k == "v1" and hmac.compare_digest(v.encode(), want.encode()) for k, v in items)}
    if scheme == "shopify":
        want = base64.b64encode(mac(secret, body)).decode()
        return {"ok": hmac.compare_digest(want.encode(), h.get("x-shopify-hmac-sha256", "").encode())}
    if scheme == "slack":
        ts = h.get("x-slack-request-timestamp")
        if not fresh(ts):
            return {"ok": False}
        want = "v0=" + mac(secret, signed_bytes("slack", "", ts, body)).hex()
        return {"ok": hmac.compare_digest(want.encode(), h.get("x-slack-signature", "").encode())}
    if scheme == "teak":
        try:
            want = base64.b64encode(mac(secret, signed_bytes("teak", "", 0, body))).decode()
        except ValueError:
            return {"ok": False}
        return {"ok": hmac.compare_digest(want.encode(), h.get("x-protecht-signature", "").encode())}
    raise ValueError("python cannot verify " + scheme)


def plextrac_recipe(job):
    """PlexTrac's documented FastAPI receiver, minus FastAPI: request.json()
    is json.loads of the body."""
    hmac_header = {k.lower(): v for k, v in job["headers"].items()}.get("x-authorization-hmac-256")
    if not hmac_header:
        return {"ok": False}
    response_payload = json.loads(base64.b64decode(job["body_b64"]))
    payload_str = json.dumps(response_payload, separators=(",", ":"))  # Match JSON.stringify()
    hmac_obj = hmac.new(job["secret"].encode(), payload_str.encode(), hashlib.sha256)
    sha256_hash = hmac_obj.hexdigest()
    return {"ok": hmac_header == sha256_hash}


OPS = {"sign": sign, "verify": verify, "plextrac-recipe": plextrac_recipe}
json.dump([OPS[job["op"]](job) for job in json.load(sys.stdin)], sys.stdout)
