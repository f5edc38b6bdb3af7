// Oracle for the jsoncanon tests: JSON.stringify(JSON.parse(text)) as Node.js
// computes it for the bytes of a request body.
//
// Protocol, one request per line on stdin and one response per line on
// stdout, in the same order:
//
//	request:  <base64 of the input bytes>
//	response: ok <base64 of the output bytes>
//	          err <message on one line>
//
// The input is decoded with buf.toString('utf8') (the WHATWG UTF-8 decoder,
// as a body parser would) and the output encoded with Buffer.from(s, 'utf8').
'use strict';

const readline = require('readline');

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  let resp;
  try {
    const text = Buffer.from(line, 'base64').toString('utf8');
    const out = JSON.stringify(JSON.parse(text));
    if (typeof out !== 'string') {
      throw new Error('JSON.stringify returned ' + typeof out);
    }
    resp = 'ok ' + Buffer.from(out, 'utf8').toString('base64');
  } catch (e) {
    const msg = e && e.message !== undefined ? String(e.message) : String(e);
    resp = 'err ' + msg.replace(/[\r\n\u2028\u2029]+/g, ' ');
  }
  process.stdout.write(resp + '\n');
});
rl.on('close', () => process.exit(0));
