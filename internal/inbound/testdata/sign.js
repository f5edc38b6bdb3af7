// Independent signer for the inbound gateway's tests, written from the
// vendors' documentation with node:crypto only. It reads a JSON array of
// jobs {scheme, secret, id, ts, body_b64} on stdin and writes a JSON array
// of {headers, body_b64}: the request each vendor would send.
"use strict";
const crypto = require("crypto");

const hmac = (key, data) => crypto.createHmac("sha256", key).update(data);

function sign(job) {
  let body = Buffer.from(job.body_b64, "base64");
  const ts = String(job.ts);
  const h = {};
  switch (job.scheme) {
    case "github": // docs.github.com: X-Hub-Signature-256 = sha256=HMAC-hex(raw body)
      h["X-Hub-Signature-256"] = "sha256=" + hmac(job.secret, body).digest("hex");
      h["X-GitHub-Delivery"] = job.id;
      h["X-GitHub-Event"] = "push";
      break;
    case "shopify": // shopify.dev: X-Shopify-Hmac-Sha256 = HMAC-base64(raw body)
      h["X-Shopify-Hmac-Sha256"] = hmac(job.secret, body).digest("base64");
      h["X-Shopify-Webhook-Id"] = job.id;
      h["X-Shopify-Topic"] = "orders/create";
      break;
    case "stripe": // stripe-go webhook/client.go: v1 = HMAC-hex("{t}.{body}"), whsec_ secret as text
      h["Stripe-Signature"] = "t=" + ts + ",v1=" +
        hmac(job.secret, Buffer.concat([Buffer.from(ts + "."), body])).digest("hex");
      break;
    case "slack": // api.slack.com: v0=HMAC-hex("v0:{ts}:{body}")
      h["X-Slack-Request-Timestamp"] = ts;
      h["X-Slack-Signature"] = "v0=" +
        hmac(job.secret, Buffer.concat([Buffer.from("v0:" + ts + ":"), body])).digest("hex");
      break;
    case "standard": { // Standard Webhooks spec: v1,base64(HMAC(base64-decoded key, "{id}.{ts}.{body}"))
      const key = Buffer.from(job.secret.replace(/^whsec_/, ""), "base64");
      const content = Buffer.concat([Buffer.from(job.id + "." + ts + "."), body]);
      h["webhook-id"] = job.id;
      h["webhook-timestamp"] = ts;
      h["webhook-signature"] = "v1," + hmac(key, content).digest("base64");
      break;
    }
    case "standard-v1a": { // Standard Webhooks spec: v1a,base64(Ed25519(content)), whsk_ = base64 seed
      const seed = Buffer.from(job.secret.replace(/^whsk_/, ""), "base64");
      const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
      const key = crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" });
      const content = Buffer.concat([Buffer.from(job.id + "." + ts + "."), body]);
      h["webhook-id"] = job.id;
      h["webhook-timestamp"] = ts;
      h["webhook-signature"] = "v1a," + crypto.sign(null, content, key).toString("base64");
      break;
    }
    case "plextrac": { // PlexTrac docs: HMAC-hex(Buffer.from(JSON.stringify(payload))), sends that JSON
      body = Buffer.from(JSON.stringify(JSON.parse(body.toString("utf8"))));
      h["x-authorization-hmac-256"] = hmac(job.secret, body).digest("hex");
      break;
    }
    default:
      throw new Error("unknown scheme " + job.scheme);
  }
  return { headers: h, body_b64: body.toString("base64") };
}

let chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const jobs = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  process.stdout.write(JSON.stringify(jobs.map(sign)));
});
