// sealFile / openFile over Blob, File and ReadableStream: progress, abort, tampering.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import * as t from 'tessera-e2ee';

before(() => t.init());

const data = Uint8Array.from({ length: 1_000_003 }, (_, i) => (i * 13 + 7) % 256);

async function collect(stream) {
  const parts = [];
  for await (const part of stream) parts.push(part);
  return new Uint8Array(Buffer.concat(parts));
}

function streamOf(bytes, piece) {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + piece));
      offset += piece;
    },
  });
}

test('File in, File out (name and type kept), progress reported to the end', async () => {
  const alice = t.KeyPair.generate();
  const card = t.Card.create(alice, 'alice');
  const file = new File([data], 'report.pdf', { type: 'application/pdf' });
  const progress = [];
  const sealed = await t.sealFile(file, alice, card, { onProgress: (p) => progress.push(p) });
  assert.ok(sealed instanceof File);
  assert.equal(sealed.name, 'report.pdf');
  assert.equal(progress.at(-1).bytesProcessed, data.length);
  assert.equal(progress.at(-1).fileSize, data.length);
  const opened = await t.openFile(sealed, alice, card);
  assert.deepEqual(new Uint8Array(await opened.arrayBuffer()), data);
});

test('ReadableStream in, ReadableStream out, any piece size', async () => {
  const alice = t.KeyPair.generate();
  const bob = t.KeyPair.generate();
  const cardA = t.Card.create(alice, 'alice');
  const cardB = t.Card.create(bob, 'bob');
  const sealed = await collect(t.sealFile(streamOf(data, 12_345), alice, [cardB]));
  const opened = await collect(t.openFile(streamOf(sealed, 999), bob, cardA));
  assert.deepEqual(opened, data);
  // The same bytes decrypt one-shot: one format for messages and files.
  assert.deepEqual(t.decrypt(bob, sealed, cardA).plaintext, data);
});

test('a tampered file is refused: the Blob promise rejects, the stream errors', async () => {
  const alice = t.KeyPair.generate();
  const card = t.Card.create(alice, 'alice');
  const sealed = new Uint8Array(await (await t.sealFile(new Blob([data]), alice, card)).arrayBuffer());
  sealed[sealed.length - 100] ^= 1;
  await assert.rejects(t.openFile(new Blob([sealed]), alice, card), { code: 'decryption_failed' });
  await assert.rejects(collect(t.openFile(streamOf(sealed, 65_536), alice, card)), { code: 'decryption_failed' });
  const other = t.Card.create(t.KeyPair.generate(), 'mallory');
  const intact = await t.sealFile(new Blob([data]), alice, card);
  await assert.rejects(t.openFile(intact, alice, other), { code: 'wrong_sender' });
});

test('AbortSignal cancels with AbortError (code cancelled)', async () => {
  const alice = t.KeyPair.generate();
  const card = t.Card.create(alice, 'alice');
  const controller = new AbortController();
  const run = t.sealFile(new Blob([data, data, data]), alice, card, {
    signal: controller.signal,
    onProgress: () => controller.abort(),
  });
  await assert.rejects(run, (error) => error instanceof t.AbortError && error.code === 'cancelled');
  const already = AbortSignal.abort();
  assert.throws(() => t.sealFile(new Blob([data]), alice, card, { signal: already }), { code: 'cancelled' });
  const streamController = new AbortController();
  const stream = t.sealFile(streamOf(data, 1000), alice, card, { signal: streamController.signal });
  const reader = stream.getReader();
  await reader.read();
  streamController.abort();
  await assert.rejects(async () => {
    for (;;) if ((await reader.read()).done) break;
  }, { code: 'cancelled' });
});

test('wrong argument types are InvalidInputError', () => {
  const alice = t.KeyPair.generate();
  const card = t.Card.create(alice, 'alice');
  assert.throws(() => t.sealFile('not a blob', alice, card), t.InvalidInputError);
  assert.throws(() => t.sealFile(new Blob([]), alice, card, { onProgress: 5 }), t.InvalidInputError);
});
