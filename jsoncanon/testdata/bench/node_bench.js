// Measures how fast Node.js computes JSON.stringify(JSON.parse(body)) on the
// jsoncanon benchmark payloads, to compare with BenchmarkJS. Write the
// payloads, then run this script on them (from the repository root):
//
//	go test ./jsoncanon -run TestWriteBenchPayloads -bench-payloads /tmp/jsoncanon-bench
//	node jsoncanon/testdata/bench/node_bench.js /tmp/jsoncanon-bench/10KB.json /tmp/jsoncanon-bench/1MB.json
//
// For each file it prints two rates, in MB/s of input (10^6 bytes, as
// go test reports them):
//
//	bytes:  Buffer in, Buffer out (decode UTF-8, parse, stringify, encode),
//	        the same work as jsoncanon.AppendJS;
//	string: JSON.stringify(JSON.parse(s)) on an already decoded string.
'use strict';

const fs = require('fs');
const path = require('path');

function rate(label, size, fn) {
  // Warm up, then run for about two seconds.
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (let i = 0; i < 10; i++, n++) sink += fn().length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < 2);
  const mbs = (size * n) / 1e6 / elapsed;
  console.log(`${label}\t${n} runs\t${(elapsed / n * 1e6).toFixed(1)} µs/op\t${mbs.toFixed(1)} MB/s\t(${sink > 0 ? 'ok' : ''})`);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node node_bench.js payload.json...');
  process.exit(2);
}
console.log(`node ${process.version}`);
for (const file of files) {
  const buf = fs.readFileSync(file);
  const str = buf.toString('utf8');
  const name = path.basename(file, '.json');
  rate(`${name}/bytes`, buf.length, () => Buffer.from(JSON.stringify(JSON.parse(buf.toString('utf8'))), 'utf8'));
  rate(`${name}/string`, buf.length, () => JSON.stringify(JSON.parse(str)));
}
