// Reference signer and verifier in Node.js, written from the vendors'
// documentation with nothing but node:crypto, for differential tests of
// package signature. It reads a JSON array of jobs on stdin and writes a JSON
// array of results on stdout.
//
//   {"op":"sign","scheme":S,"secret":K,"payload_b64":P,"id":I,"ts":T}
//     -> {"headers":{name:value},"body_b64":B}   (B: the bytes to send)
//   {"op":"verify","scheme":S,"secret":K,"headers":{...},"body_b64":B,"now":T}
//     -> {"ok":bool,"why":string}
'use strict';
const crypto = require('crypto');

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));

const hmac = (key, msg) => crypto.createHmac('sha256', key).update(msg).digest();
const whsecKey = (s) => Buffer.from(s.replace(/^whsec_/, ''), 'base64');

function edPrivate(secret) {
  const raw = Buffer.from(secret.replace(/^whsk_/, ''), 'base64').subarray(0, 32);
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), raw]);
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

function edPublic(secret) {
  const raw = Buffer.from(secret.replace(/^whpk_/, ''), 'base64');
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

// signedBytes returns what each scheme signs, given the body as sent.
function signedBytes(scheme, id, ts, body) {
  switch (scheme) {
    case 'standard': return Buffer.concat([Buffer.from(`${id}.${ts}.`), body]);
    case 'stripe': return Buffer.concat([Buffer.from(`${ts}.`), body]);
    case 'slack': return Buffer.concat([Buffer.from(`v0:${ts}:`), body]);
    case 'plextrac': return Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8'))));
    default: return body;
  }
}

function sign(job) {
  let body = Buffer.from(job.payload_b64, 'base64');
  if (job.scheme === 'plextrac') {
    // PlexTrac: hmac.update(Buffer.from(JSON.stringify(payload))), and the
    // body on the wire is that same serialization.
    body = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8'))));
  }
  const msg = signedBytes(job.scheme, job.id, job.ts, body);
  const h = {};
  switch (job.scheme) {
    case 'standard':
      h['webhook-id'] = job.id;
      h['webhook-timestamp'] = String(job.ts);
      h['webhook-signature'] = job.secret.startsWith('whsk_')
        ? 'v1a,' + crypto.sign(null, msg, edPrivate(job.secret)).toString('base64')
        : 'v1,' + hmac(whsecKey(job.secret), msg).toString('base64');
      break;
    case 'github':
      h['X-Hub-Signature-256'] = 'sha256=' + hmac(job.secret, msg).toString('hex');
      break;
    case 'stripe':
      h['Stripe-Signature'] = `t=${job.ts},v1=` + hmac(job.secret, msg).toString('hex');
      break;
    case 'shopify':
      h['X-Shopify-Hmac-Sha256'] = hmac(job.secret, msg).toString('base64');
      break;
    case 'slack':
      h['X-Slack-Request-Timestamp'] = String(job.ts);
      h['X-Slack-Signature'] = 'v0=' + hmac(job.secret, msg).toString('hex');
      break;
    case 'plextrac':
      h['x-authorization-hmac-256'] = hmac(job.secret, msg).toString('hex');
      break;
    default:
      throw new Error('node cannot sign ' + job.scheme);
  }
  return { headers: h, body_b64: body.toString('base64') };
}

function verify(job) {
  const h = {};
  for (const [k, v] of Object.entries(job.headers)) h[k.toLowerCase()] = v;
  const body = Buffer.from(job.body_b64, 'base64');
  const eq = (a, b) => a.length === b.length && crypto.timingSafeEqual(a, b);
  const fresh = (ts) => Math.abs(job.now - Number(ts)) <= 300;
  switch (job.scheme) {
    case 'standard': {
      const id = h['webhook-id'], ts = h['webhook-timestamp'], sigs = h['webhook-signature'];
      if (!id || !ts || !sigs) return { ok: false, why: 'missing header' };
      if (!/^[0-9]+$/.test(ts) || !fresh(ts)) return { ok: false, why: 'timestamp' };
      const msg = signedBytes('standard', id, ts, body);
      for (const s of sigs.split(' ')) {
        const [v, sig] = s.split(',');
        if (v === 'v1' && !job.secret.startsWith('whpk_')) {
          if (eq(Buffer.from(sig || '', 'base64'), hmac(whsecKey(job.secret), msg))) return { ok: true };
        } else if (v === 'v1a' && job.secret.startsWith('whpk_')) {
          if (crypto.verify(null, msg, edPublic(job.secret), Buffer.from(sig || '', 'base64'))) return { ok: true };
        }
      }
      return { ok: false, why: 'no match' };
    }
    case 'github': {
      const m = /^sha256=([0-9a-f]{64})$/.exec(h['x-hub-signature-256'] || '');
      return { ok: !!m && eq(Buffer.from(m[1], 'hex'), hmac(job.secret, body)) };
    }
    case 'stripe': {
      const parts = (h['stripe-signature'] || '').split(',').map((p) => p.split('='));
      const t = parts.filter((p) => p[0] === 't').map((p) => p[1])[0];
      if (!t || !fresh(t)) return { ok: false, why: 'timestamp' };
      const want = hmac(job.secret, signedBytes('stripe', '', t, body));
      return { ok: parts.some((p) => p[0] === 'v1' && eq(Buffer.from(p[1], 'hex'), want)) };
    }
    case 'shopify':
      return { ok: eq(Buffer.from(h['x-shopify-hmac-sha256'] || '', 'base64'), hmac(job.secret, body)) };
    case 'slack': {
      const ts = h['x-slack-request-timestamp'];
      if (!ts || !fresh(ts)) return { ok: false, why: 'timestamp' };
      const m = /^v0=([0-9a-f]{64})$/.exec(h['x-slack-signature'] || '');
      return { ok: !!m && eq(Buffer.from(m[1], 'hex'), hmac(job.secret, signedBytes('slack', '', ts, body))) };
    }
    case 'plextrac': {
      const sig = h['x-authorization-hmac-256'] || '';
      let msg;
      try {
        msg = signedBytes('plextrac', '', 0, body);
      } catch (e) {
        return { ok: false, why: 'body is not JSON' };
      }
      return { ok: /^[0-9a-f]{64}$/.test(sig) && eq(Buffer.from(sig, 'hex'), hmac(job.secret, msg)) };
    }
  }
  throw new Error('node cannot verify ' + job.scheme);
}

process.stdout.write(JSON.stringify(input.map((job) => (job.op === 'sign' ? sign(job) : verify(job)))));
