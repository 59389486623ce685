// Two builds of tessera-e2ee (say, before and after a change) in one Node process: each
// operation timed in alternating batches of ~20 ms, and the median of the per-round
// ratios (after / before), so drift on a shared machine falls on both alike. Prints a
// Markdown table (docs/BENCHMARKS.md). COMPARE_SECONDS sets the time per row (default 2).
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const [before, after] = process.argv.slice(2);
if (!before || !after) {
  console.error('usage: node compare-builds.mjs DIR_BEFORE DIR_AFTER   (unpacked tessera-e2ee packages)');
  process.exit(2);
}
const A = require(before);
const B = require(after);
await A.init();
await B.init();
const SECONDS = Number(process.env.COMPARE_SECONDS ?? 2);

function setup(t) {
  const me = t.KeyPair.generate();
  const meCard = t.Card.create(me, 'alice');
  const people = Array.from({ length: 1000 }, (_, i) => t.Card.create(t.KeyPair.generate(), `u${i}`));
  const data = new Uint8Array(1024).fill(0x5a);
  const env = {};
  for (const n of [1, 100, 1000]) env[n] = t.encrypt(me, [meCard, ...people.slice(0, n - 1)], data);
  return {
    encrypt: (n) => () => t.encrypt(me, [meCard, ...people.slice(0, n - 1)], data),
    decrypt: (n) => () => t.decrypt(me, env[n], meCard),
    t,
  };
}
const a = setup(A), b = setup(B);
/** Calls of `fn` that take about 20 ms. */
function per(fn) {
  let n = 0;
  const s = performance.now();
  while (performance.now() - s < 20) {
    fn();
    n++;
  }
  return Math.max(1, n);
}
function measure(fa, fb) {
  const na = per(fa), nb = per(fb);
  const ra = [], rb = [], ratio = [];
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    let s = performance.now();
    for (let i = 0; i < na; i++) fa();
    const ta = (performance.now() - s) / na;
    s = performance.now();
    for (let i = 0; i < nb; i++) fb();
    const tb = (performance.now() - s) / nb;
    ra.push(ta); rb.push(tb); ratio.push(tb / ta);
  }
  const med = (x) => x.sort((p, q) => p - q)[x.length >> 1];
  return [med(ra), med(rb), med(ratio)];
}
const fmt = (ms) => (ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`);
console.log('| operation | before | after | after / before |\n|---|---|---|---|');
for (const n of [1, 100, 1000]) {
  for (const op of ['encrypt', 'decrypt']) {
    const [ta, tb, r] = measure(a[op](n), b[op](n));
    console.log(`| ${op} 1 KiB, ${n} recipient${n > 1 ? 's' : ''} | ${fmt(ta)} | ${fmt(tb)} | ${r.toFixed(2)}× |`);
  }
}
// Argon2id at each build's default cost: opening a default blob with a wrong password.
const blobA = A.sealBackup(A.KeyPair.generate(), 'pw');
const blobB = B.sealBackup(B.KeyPair.generate(), 'pw');
const open = (t, blob) => () => {
  try {
    t.openBackup(blob, 'wrong');
  } catch {
    // wrong_password: the KDF ran, which is what is timed.
  }
};
const [ka, kb, kr] = measure(open(A, blobA), open(B, blobB));
console.log(`| Argon2id at the default cost (open a backup) | ${fmt(ka)} | ${fmt(kb)} | ${kr.toFixed(2)}× |`);
