#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node, installed by scripts/setup-ort) on a float32
// .npy input, single-threaded, all graph optimizations on (QDQ groups fuse into QLinearConv etc.).
//   ort-run.js run   MODEL.onnx IN.npy OUT.npy     the model's first output, as float32 .npy
//   ort-run.js bench MODEL.onnx IN.npy BATCH       prints "images_per_second N", the best of 3 passes over IN
// ORT is found in $CHIPREF_ORT_MODULE, else in .cache/ort beside this script's project.
'use strict';
const fs = require('fs');
const path = require('path');

const ortModule = process.env.CHIPREF_ORT_MODULE ||
    path.join(__dirname, '..', '.cache', 'ort', 'node_modules', 'onnxruntime-node');
const ort = require(ortModule);

function fail(message) {
  process.stderr.write(`ort-run: ${message}\n`);
  process.exit(1);
}

// .npy version 1/2, little-endian float32, C order.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') fail(`${file}: not a .npy file`);
  const major = buf.readUInt8(6);
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', headerStart, headerStart + headerLength);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) fail(`${file}: expected little-endian float32 in C order`);
  const dims = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const offset = headerStart + headerLength;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + buf.length));
  return {dims, data};
}

function writeNpy(file, dims, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.writeUInt8(0x93, 0);
  head.write('NUMPY', 1, 'latin1');
  head.writeUInt8(1, 6);
  head.writeUInt8(0, 7);
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const [mode, model, input, last] = process.argv.slice(2);
  if (!['run', 'bench'].includes(mode) || !last) fail('usage: ort-run.js run MODEL IN.npy OUT.npy | bench MODEL IN.npy BATCH');
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all'});
  const inputName = session.inputNames[0], outputName = session.outputNames[0];
  const x = readNpy(input);
  const per = x.dims.slice(1).reduce((a, b) => a * b, 1), n = x.dims[0];
  const runBatch = async (start, count) => {
    const t = new ort.Tensor('float32', x.data.subarray(start * per, (start + count) * per), [count, ...x.dims.slice(1)]);
    return (await session.run({[inputName]: t}))[outputName];
  };
  if (mode === 'run') {
    const y = await runBatch(0, n);
    writeNpy(last, y.dims, y.data);
    return;
  }
  const batch = Number(last);
  await runBatch(0, Math.min(batch, n));  // warm-up: first-run allocations out of the timing
  let best = 0;  // the best of three passes: the machine's noise only ever slows a pass down
  for (let pass = 0; pass < 3; ++pass) {
    const t0 = process.hrtime.bigint();
    let done = 0;
    for (let s = 0; s + batch <= n; s += batch, done += batch) await runBatch(s, batch);
    best = Math.max(best, done / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  process.stdout.write(`images_per_second ${best.toFixed(1)}\n`);
}

main().catch((e) => fail(e.message || String(e)));
