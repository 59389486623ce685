// scripts/bench-npm: tessera-e2ee vs virgil-crypto (E3Kit's engine: signThenEncrypt /
// decryptThenVerify, stream signer + stream cipher for files, as E3Kit's encryptFile) and
// libsodium-wrappers (Ed25519 signature + one sealed box per recipient + secretstream), in
// one Node process, same data. A benchmark, not a test: it prints a table.
import { performance } from 'node:perf_hooks';

import sodium from 'libsodium-wrappers';
import * as t from 'tessera-e2ee';
import { initCrypto, VirgilCrypto } from 'virgil-crypto';

await Promise.all([t.init(), initCrypto(), sodium.ready]);
const virgil = new VirgilCrypto();

const KIB = new Uint8Array(1024).map((_, i) => i % 251);
const FILE = new Uint8Array(10 * 1024 * 1024).map((_, i) => (i * 7) % 251);
const CHUNK = 64 * 1024;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);

/** Calls per batch so that one batch of `fn` takes about 10 ms (after a 100 ms warm-up). */
function batchSize(fn) {
  fn();
  const start = performance.now();
  let calls = 0;
  while (performance.now() - start < 100) {
    fn();
    calls += 1;
  }
  return Math.max(1, Math.round(calls / 10));
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Times the libraries' versions of one operation in alternation (one batch each per round,
 * the order rotating), so that the machine's drift, large on shared cores, falls on all of
 * them alike. Returns each one's median time per call in microseconds and the median of the
 * per-round ratios of the first one's time to each other's.
 */
function measure(fns) {
  const batches = fns.map(batchSize);
  const rounds = [];
  const end = performance.now() + SECONDS * fns.length * 1000;
  while (performance.now() < end || rounds.length < 5) {
    const times = new Array(fns.length);
    for (let k = 0; k < fns.length; k += 1) {
      const i = (k + rounds.length) % fns.length;
      const s = performance.now();
      for (let c = 0; c < batches[i]; c += 1) fns[i]();
      times[i] = ((performance.now() - s) * 1000) / batches[i];
    }
    rounds.push(times);
  }
  return {
    us: fns.map((_, i) => median(rounds.map((r) => r[i]))),
    ratios: fns.slice(1).map((_, i) => median(rounds.map((r) => r[0] / r[i + 1]))),
  };
}

// ---- tessera-e2ee
const tessera = (() => {
  const people = Array.from({ length: 100 }, (_, i) => {
    const keys = t.KeyPair.generate();
    return { keys, card: t.Card.create(keys, `user${i}`) };
  });
  const [me] = people;
  const cards = (n) => people.slice(1, n + 1).map((p) => p.card);
  return {
    keygen: () => t.KeyPair.generate().free(),
    encrypt: (n) => {
      const to = cards(n);
      return () => t.encrypt(me.keys, to, KIB);
    },
    decrypt: () => {
      const envelope = t.encrypt(me.keys, cards(1), KIB);
      return () => t.decrypt(people[1].keys, envelope, me.card);
    },
    fileEncrypt: () => {
      const to = cards(1);
      return () => {
        const stream = new t.EncryptStream(me.keys, to);
        for (let i = 0; i < FILE.length; i += CHUNK) stream.update(FILE.subarray(i, i + CHUNK));
        stream.finish();
      };
    },
    fileDecrypt: () => {
      const envelope = t.encrypt(me.keys, cards(1), FILE);
      return () => {
        const stream = new t.DecryptStream(people[1].keys);
        for (let i = 0; i < envelope.length; i += CHUNK) stream.update(envelope.subarray(i, i + CHUNK));
        stream.finish(me.card);
      };
    },
  };
})();

// ---- virgil-crypto (E3Kit)
const virgilSide = (() => {
  const people = Array.from({ length: 101 }, () => virgil.generateKeys());
  const [me] = people;
  const keys = (n) => people.slice(1, n + 1).map((p) => p.publicKey);
  const kib = Buffer.from(KIB);
  const file = Buffer.from(FILE);
  return {
    keygen: () => virgil.generateKeys(),
    // E3Kit's encrypt adds the sender's own key, as ours does.
    encrypt: (n) => {
      const to = [...keys(n), me.publicKey];
      return () => virgil.signThenEncrypt(kib, me.privateKey, to);
    },
    decrypt: () => {
      const envelope = virgil.signThenEncrypt(kib, me.privateKey, [people[1].publicKey, me.publicKey]);
      return () => virgil.decryptThenVerify(envelope, people[1].privateKey, me.publicKey);
    },
    // E3Kit's encryptFile: a signing pass, then a cipher pass with the signature.
    fileEncrypt: () => {
      const to = [people[1].publicKey, me.publicKey];
      return () => {
        const signer = virgil.createStreamSigner();
        for (let i = 0; i < file.length; i += CHUNK) signer.update(file.subarray(i, i + CHUNK));
        const signature = signer.sign(me.privateKey);
        const cipher = virgil.createStreamCipher(to, signature);
        cipher.start();
        for (let i = 0; i < file.length; i += CHUNK) cipher.update(file.subarray(i, i + CHUNK));
        cipher.final();
      };
    },
    fileDecrypt: () => {
      const to = [people[1].publicKey, me.publicKey];
      const signer = virgil.createStreamSigner();
      signer.update(file);
      const cipher = virgil.createStreamCipher(to, signer.sign(me.privateKey));
      const envelope = Buffer.concat([cipher.start(), cipher.update(file), cipher.final()]);
      return () => {
        const decipher = virgil.createStreamDecipher(people[1].privateKey);
        const parts = [];
        for (let i = 0; i < envelope.length; i += CHUNK) parts.push(decipher.update(envelope.subarray(i, i + CHUNK)));
        parts.push(decipher.final(false));
        const signature = decipher.getSignature();
        decipher.dispose();
        const verifier = virgil.createStreamVerifier(signature);
        for (const part of parts) verifier.update(part);
        if (!verifier.verify(me.publicKey)) throw new Error('virgil: verification failed');
      };
    },
  };
})();

// ---- libsodium-wrappers: sign + sealed box per recipient + secretstream
const sodiumSide = (() => {
  const person = () => ({ sign: sodium.crypto_sign_keypair(), box: sodium.crypto_box_keypair() });
  const people = Array.from({ length: 101 }, person);
  const [me] = people;
  const TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  const TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  function seal(recipients, plaintext) {
    const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
    const boxes = recipients.map((r) => sodium.crypto_box_seal(key, r.box.publicKey));
    const signature = sodium.crypto_sign_detached(plaintext, me.sign.privateKey);
    const body = new Uint8Array(plaintext.length + signature.length);
    body.set(plaintext);
    body.set(signature, plaintext.length);
    const ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(state, body, null, TAG_FINAL);
    return { boxes, header, ciphertext };
  }
  function open(message, reader, box) {
    const key = sodium.crypto_box_seal_open(message.boxes[box], reader.box.publicKey, reader.box.privateKey);
    const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(message.header, key);
    const { message: body } = sodium.crypto_secretstream_xchacha20poly1305_pull(state, message.ciphertext);
    const plaintext = body.subarray(0, body.length - 64);
    if (!sodium.crypto_sign_verify_detached(body.subarray(body.length - 64), plaintext, me.sign.publicKey)) {
      throw new Error('sodium: verification failed');
    }
    return plaintext;
  }
  function sealFile(recipients) {
    const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
    const boxes = recipients.map((r) => sodium.crypto_box_seal(key, r.box.publicKey));
    const signer = sodium.crypto_sign_init();
    const chunks = [];
    for (let i = 0; i < FILE.length; i += CHUNK) {
      const piece = FILE.subarray(i, i + CHUNK);
      sodium.crypto_sign_update(signer, piece);
      chunks.push(sodium.crypto_secretstream_xchacha20poly1305_push(state, piece, null, TAG_MESSAGE));
    }
    const signature = sodium.crypto_sign_final_create(signer, me.sign.privateKey);
    chunks.push(sodium.crypto_secretstream_xchacha20poly1305_push(state, signature, null, TAG_FINAL));
    return { boxes, header, chunks };
  }
  return {
    keygen: () => person(),
    encrypt: (n) => {
      const to = [...people.slice(1, n + 1), me];
      return () => seal(to, KIB);
    },
    decrypt: () => {
      const message = seal([people[1], me], KIB);
      return () => open(message, people[1], 0);
    },
    fileEncrypt: () => () => sealFile([people[1], me]),
    fileDecrypt: () => {
      const file = sealFile([people[1], me]);
      return () => {
        const key = sodium.crypto_box_seal_open(file.boxes[0], people[1].box.publicKey, people[1].box.privateKey);
        const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(file.header, key);
        const verifier = sodium.crypto_sign_init();
        let signature = null;
        for (const chunk of file.chunks) {
          const { message, tag } = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk);
          if (tag === TAG_FINAL) signature = message;
          else sodium.crypto_sign_update(verifier, message);
        }
        if (!sodium.crypto_sign_final_verify(verifier, signature, me.sign.publicKey)) throw new Error('sodium: bad file');
      };
    },
  };
})();

const rows = [
  ['key generation', (s) => s.keygen],
  ['encrypt 1 KiB to 1 recipient', (s) => s.encrypt(1)],
  ['encrypt 1 KiB to 10 recipients', (s) => s.encrypt(10)],
  ['encrypt 1 KiB to 100 recipients', (s) => s.encrypt(100)],
  ['decrypt + verify 1 KiB', (s) => s.decrypt()],
  ['encrypt 10 MiB file (64 KiB pieces)', (s) => s.fileEncrypt(), true],
  ['decrypt + verify 10 MiB file', (s) => s.fileDecrypt(), true],
];

const fmt = (us, file) => (file ? `${(FILE.length / us).toFixed(0)} MB/s` : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);
console.log(`tessera-e2ee vs virgil-crypto and libsodium-wrappers — Node ${process.version}, ${SECONDS}s per cell, medians`);
console.log('the three libraries timed in alternating ~10 ms batches; time ratio = median over rounds of');
console.log('tessera time / other time in the same round (below 1: tessera faster)\n');
const header = ['operation', 'tessera-e2ee', 'virgil-crypto', 'libsodium', 'ratio vs virgil', 'ratio vs sodium'];
const table = [header];
for (const [name, make, file] of rows) {
  const { us, ratios } = measure([tessera, virgilSide, sodiumSide].map(make));
  table.push([name, fmt(us[0], file), fmt(us[1], file), fmt(us[2], file), ...ratios.map((r) => r.toFixed(2) + '×')]);
}
const widths = header.map((_, i) => Math.max(...table.map((r) => r[i].length)));
const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(line(table[0]));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of table.slice(1)) console.log(line(r));
