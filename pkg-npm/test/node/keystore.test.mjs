// Node's default key store: files of mode 0600 in a directory of mode 0700.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as t from 'tessera-e2ee';

test('FileKeyStore: get/set/delete, file and directory modes, long names', async () => {
  const directory = join(mkdtempSync(join(tmpdir(), 'tessera-ks-')), 'keys');
  const store = new t.FileKeyStore({ directory });
  assert.equal(await store.get('tessera/alice/root-secret'), null);
  const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
  await store.set('tessera/alice/root-secret', secret);
  assert.deepEqual(await store.get('tessera/alice/root-secret'), secret);
  assert.equal(statSync(directory).mode & 0o777, 0o700);
  const files = readdirSync(directory);
  assert.equal(files.length, 1);
  assert.equal(statSync(join(directory, files[0])).mode & 0o777, 0o600);
  assert.deepEqual(new Uint8Array(readFileSync(join(directory, files[0]))), secret);
  // Replacing is atomic and leaves no temporary files behind.
  await store.set('tessera/alice/root-secret', new Uint8Array([9]));
  assert.deepEqual(readdirSync(directory), files);
  const long = `tessera/${'x'.repeat(128)}/cards/${'%/'.repeat(64)}`;
  await store.set(long, new Uint8Array([1, 2]));
  assert.deepEqual(await store.get(long), new Uint8Array([1, 2]));
  await store.delete(long);
  await store.delete(long);
  assert.equal(await store.get(long), null);
  // A second instance on the same directory sees the same entries.
  assert.deepEqual(await new t.FileKeyStore({ directory }).get('tessera/alice/root-secret'), new Uint8Array([9]));
});

test('MemoryKeyStore copies values in and out', async () => {
  const store = new t.MemoryKeyStore();
  const value = new Uint8Array([1, 2, 3]);
  await store.set('a', value);
  value[0] = 9;
  const read = await store.get('a');
  assert.deepEqual(read, new Uint8Array([1, 2, 3]));
  read[1] = 9;
  assert.deepEqual(await store.get('a'), new Uint8Array([1, 2, 3]));
  await store.delete('a');
  assert.equal(await store.get('a'), null);
});

test('IndexedDbKeyStore explains that Node has no IndexedDB', async () => {
  await assert.rejects(new t.IndexedDbKeyStore().get('x'), (error) => error.code === 'key_store');
});
