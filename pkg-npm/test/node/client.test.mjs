// The E3Kit-style client (`Tessera`, `Group`) against the real tessera-server that
// scripts/test-npm runs on a loopback port, with Node's default key store (files) in
// temporary directories: every operation, backups across devices, groups, error codes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import * as t from 'tessera-e2ee';

import { testServer } from './helpers.mjs';

const server = testServer();
const run = randomBytes(4).toString('hex');
const id = (name) => `${name}-${run}`;

/** A fresh device: its own key store directory. */
function newDirectory() {
  return mkdtempSync(join(tmpdir(), 'tessera-device-'));
}

/** A device of `identity` (new key store directory unless one is given). */
async function device(identity, { directory = newDirectory(), ...options } = {}) {
  const tessera = await t.Tessera.initialize(server.tokenFor(identity), {
    serverUrl: server.url,
    keyStore: new t.FileKeyStore({ directory }),
    ...options,
  });
  return Object.assign(tessera, { directory });
}

async function registered(identity) {
  const tessera = await device(identity);
  await tessera.register();
  return tessera;
}

/** Asserts that `promise` rejects with an instance of `Class` and `code`. */
async function rejectsWith(promise, Class, code) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof Class, `${error.name} is not a ${Class.name}: ${error.message}`);
    assert.ok(error instanceof t.TesseraError);
    assert.equal(error.code, code, error.message);
    assert.equal(error.name, Class.name);
    return true;
  });
}

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

test('initialize checks its arguments and learns the identity from the token', async () => {
  await assert.rejects(t.Tessera.initialize('not a function', { serverUrl: server.url }), t.InvalidInputError);
  await assert.rejects(t.Tessera.initialize(server.tokenFor(id('x')), {}), t.InvalidInputError);
  await assert.rejects(
    t.Tessera.initialize(server.tokenFor(id('x')), { serverUrl: server.url, keyStore: { get() {} } }),
    t.InvalidInputError,
  );
  await rejectsWith(
    t.Tessera.initialize(server.tokenFor(id('x')), { serverUrl: 'ftp://nowhere', keyStore: new t.MemoryKeyStore() }),
    t.InvalidInputError,
    'invalid_input',
  );
  assert.throws(() => new t.Tessera(), TypeError);
  const alice = await device(id('alice-init'));
  assert.equal(alice.identity, id('alice-init'));
  assert.equal(await alice.hasLocalPrivateKey(), false);
  assert.equal(alice.ownCard, undefined);
});

test('register, then register again: private_key_already_exists here, already_registered elsewhere', async () => {
  const name = id('reg');
  const first = await device(name);
  const card = await first.register();
  assert.ok(card instanceof t.Card);
  assert.equal(card.identity, name);
  assert.equal(first.ownCard.id, card.id);
  assert.equal(await first.hasLocalPrivateKey(), true);
  await rejectsWith(first.register(), t.PrivateKeyAlreadyExistsError, 'private_key_already_exists');
  const second = await device(name);
  await rejectsWith(second.register(), t.IdentityAlreadyExistsError, 'already_registered');
  assert.equal(await second.hasLocalPrivateKey(), false);
  // The key store is plain files of mode 0600 in a 0700 directory.
  assert.equal(statSync(first.directory).mode & 0o777, 0o700);
  for (const file of readdirSync(first.directory)) {
    assert.equal(statSync(join(first.directory, file)).mode & 0o777, 0o600, file);
  }
  // A restart of the app finds the key again.
  const again = await device(name, { directory: first.directory });
  assert.equal(await again.hasLocalPrivateKey(), true);
  assert.equal(again.ownCard.id, card.id);
});

test('findUsers: one identity → Card, several → { identity: Card }; users_not_found lists the missing', async () => {
  const alice = await registered(id('find-a'));
  const bob = await registered(id('find-b'));
  const carol = await registered(id('find-c'));
  const one = await alice.findUsers(bob.identity);
  assert.ok(one instanceof t.Card);
  assert.equal(one.id, bob.ownCard.id);
  const many = await alice.findUsers([bob.identity, carol.identity]);
  assert.deepEqual(Object.keys(many).sort(), [bob.identity, carol.identity].sort());
  assert.equal(many[carol.identity].id, carol.ownCard.id);
  await assert.rejects(alice.findUsers([bob.identity, id('nobody'), id('nobody2')]), (error) => {
    assert.ok(error instanceof t.UsersNotFoundError);
    assert.equal(error.code, 'users_not_found');
    assert.deepEqual(error.identities.sort(), [id('nobody'), id('nobody2')].sort());
    return true;
  });
  await rejectsWith(alice.findUsers([]), t.InvalidInputError, 'invalid_input');
  await rejectsWith(alice.findUsers('not an identity!'), t.InvalidInputError, 'invalid_input');
  // The cache answers without the server, and only for users looked up before.
  assert.equal((await alice.findCachedUsers(bob.identity)).id, bob.ownCard.id);
  assert.deepEqual(Object.keys(await alice.findCachedUsers([bob.identity, carol.identity])).length, 2);
  await rejectsWith(bob.findCachedUsers(carol.identity), t.UsersNotFoundError, 'users_not_found');
  assert.deepEqual(await alice.updateCachedUsers(), []);
});

test('authEncrypt / authDecrypt: string → base64 → string, bytes → bytes, and every refusal', async () => {
  const alice = await registered(id('msg-a'));
  const bob = await registered(id('msg-b'));
  const carol = await registered(id('msg-c'));
  const bobCard = await alice.findUsers(bob.identity);
  const aliceCard = await bob.findUsers(alice.identity);

  const text = await alice.authEncrypt('hello bob ✓', bobCard);
  assert.equal(typeof text, 'string');
  assert.match(text, /^[A-Za-z0-9+/]+=*$/);
  assert.equal(await bob.authDecrypt(text, aliceCard), 'hello bob ✓');
  // The sender can read what it sent (it is always a recipient); the default sender is itself.
  assert.equal(await alice.authDecrypt(text), 'hello bob ✓');

  const bytes = new Uint8Array([0, 1, 2, 250, 255]);
  const envelope = await alice.authEncrypt(bytes, { [bob.identity]: bobCard });
  assert.ok(envelope instanceof Uint8Array);
  assert.deepEqual(await bob.authDecrypt(envelope, aliceCard, new Date()), bytes);
  // Card arrays and lookup results are not consumed: the caller's cards stay usable.
  await alice.authEncrypt('again', [bobCard]);
  assert.equal(bobCard.identity, bob.identity);

  const carolCard = await bob.findUsers(carol.identity);
  await rejectsWith(bob.authDecrypt(envelope, carolCard), t.IntegrityCheckFailedError, 'wrong_sender');
  await rejectsWith(carol.authDecrypt(envelope, await carol.findUsers(alice.identity)), t.IntegrityCheckFailedError, 'not_a_recipient');
  const tampered = envelope.slice();
  tampered[tampered.length - 3] ^= 1;
  await rejectsWith(bob.authDecrypt(tampered, aliceCard), t.IntegrityCheckFailedError, 'decryption_failed');
  await rejectsWith(bob.authDecrypt('not base64!', aliceCard), t.InvalidInputError, 'invalid_input');
  await rejectsWith(alice.authEncrypt(42, bobCard), t.InvalidInputError, 'invalid_input');
  await rejectsWith(alice.authEncrypt('x', ['not a card']), t.InvalidInputError, 'invalid_input');

  // Without a key on the device: missing_private_key.
  const empty = await device(alice.identity);
  await rejectsWith(empty.authEncrypt('x', bobCard), t.MissingPrivateKeyError, 'missing_private_key');
  await rejectsWith(empty.authDecrypt(text), t.MissingPrivateKeyError, 'missing_private_key');
  assert.equal(await alice.safetyNumber(bobCard), await bob.safetyNumber(aliceCard));
  assert.match(await alice.safetyNumber(bobCard), /^(\d{5} ){11}\d{5}$/);
});

/** Runs `body` with console.warn captured; resolves to the warnings. */
async function warningsOf(body) {
  const warnings = [];
  const original = console.warn;
  console.warn = (...args) => warnings.push(args.join(' '));
  try {
    await body();
  } finally {
    console.warn = original;
  }
  return warnings;
}

test("E3Kit's tutorial runs as written: lookupPublicKeys, encrypt, decrypt, each warning once", async () => {
  const alice = await registered(id('tut-a'));
  const bob = await registered(id('tut-b'));
  const aliceUID = alice.identity;
  const bobUID = bob.identity;
  let encryptedData;
  let encryptedText;
  let decryptedData;
  let decryptedText;
  const warnings = await warningsOf(async () => {
    // Bob writes…
    {
      const eThree = bob;
      const publicKeys = await eThree.lookupPublicKeys([aliceUID, bobUID]);
      encryptedData = await eThree.encrypt(new ArrayBuffer(), publicKeys);
      encryptedText = await eThree.encrypt('this text will be encrypted', publicKeys);
    }
    // …and Alice reads.
    {
      const eThree = alice;
      const publicKey = await eThree.lookupPublicKeys(bobUID);
      decryptedData = await eThree.decrypt(encryptedData, publicKey);
      decryptedText = await eThree.decrypt(encryptedText, publicKey);
    }
    // Used again: no more warnings.
    await bob.lookupPublicKeys(aliceUID);
    await bob.decrypt(await bob.encrypt('again'));
  });
  assert.ok(encryptedData instanceof Uint8Array);
  assert.equal(typeof encryptedText, 'string');
  assert.ok(decryptedData instanceof Uint8Array);
  assert.equal(decryptedData.length, 0);
  assert.equal(decryptedText, 'this text will be encrypted');
  assert.equal(warnings.length, 3, warnings.join('\n'));
  for (const [old, replacement] of [['lookupPublicKeys', 'findUsers'], ['encrypt', 'authEncrypt'], ['decrypt', 'authDecrypt']]) {
    const said = warnings.filter((warning) => warning.includes(`${old}()`));
    assert.equal(said.length, 1, `${old}: ${warnings.join('\n')}`);
    assert.match(said[0], new RegExp(`deprecated.*use ${replacement}\\(\\)`));
  }
  // The aliases are the new methods: signed, so another sender's card does not verify.
  const publicKeys = await alice.lookupPublicKeys([bobUID]);
  const own = await alice.encrypt('from alice', publicKeys);
  await rejectsWith(bob.decrypt(own, await bob.findUsers(bobUID)), t.IntegrityCheckFailedError, 'wrong_sender');
  assert.equal(await bob.decrypt(own, await bob.findUsers(aliceUID)), 'from alice');
  await rejectsWith(alice.lookupPublicKeys([id('nobody')]), t.UsersNotFoundError, 'users_not_found');
});

test('every data type E3Kit takes round-trips: ArrayBuffer, typed arrays, DataView, Buffer, base64 or bytes back', async () => {
  const alice = await registered(id('data-a'));
  const bob = await registered(id('data-b'));
  const bobCard = await alice.findUsers(bob.identity);
  const aliceCard = await bob.findUsers(alice.identity);
  const backing = new ArrayBuffer(64);
  new Uint8Array(backing).forEach((_, i, all) => (all[i] = i * 7));
  const slice = (start, end) => new Uint8Array(backing.slice(start, end));
  const cases = [
    ['ArrayBuffer', backing, slice(0, 64)],
    ['empty ArrayBuffer', new ArrayBuffer(0), new Uint8Array(0)],
    ['Uint8Array view', new Uint8Array(backing, 3, 10), slice(3, 13)],
    ['Int8Array', new Int8Array(backing, 5, 7), slice(5, 12)],
    ['Uint8ClampedArray', new Uint8ClampedArray(backing, 1, 2), slice(1, 3)],
    ['Uint16Array', new Uint16Array(backing, 8, 4), slice(8, 16)],
    ['Int32Array', new Int32Array(backing, 4, 3), slice(4, 16)],
    ['Float64Array', new Float64Array(backing, 16, 2), slice(16, 32)],
    ['BigUint64Array', new BigUint64Array(backing, 32, 1), slice(32, 40)],
    ['DataView', new DataView(backing, 9, 20), slice(9, 29)],
    ['Buffer', Buffer.from(backing, 40, 24), slice(40, 64)],
  ];
  for (const [name, input, expected] of cases) {
    for (const method of ['authEncrypt', 'encrypt']) {
      const envelope = await alice[method](input, bobCard);
      assert.ok(envelope instanceof Uint8Array, `${name} → ${envelope?.constructor?.name}`);
      assert.equal(Object.getPrototypeOf(envelope), Uint8Array.prototype, name);
      // The ciphertext itself in any byte shape, or as base64 (then the plaintext is text).
      const copy = envelope.slice().buffer;
      for (const ciphertext of [envelope, copy, new DataView(copy), Buffer.from(copy)]) {
        const plaintext = await bob.authDecrypt(ciphertext, aliceCard);
        assert.ok(plaintext instanceof Uint8Array, name);
        assert.deepEqual(plaintext, expected, name);
      }
      assert.deepEqual(await bob.decrypt(envelope, aliceCard), expected, name);
    }
    // The input is read, not changed.
    assert.equal(new Uint8Array(backing)[3], 21);
  }
  // Text in → base64 out; base64 in → text out; a Buffer of UTF-8 stays bytes.
  const text = await alice.encrypt('zwölf ✓', bobCard);
  assert.match(text, /^[A-Za-z0-9+/]+=*$/);
  assert.equal(await bob.decrypt(text, aliceCard), 'zwölf ✓');
  assert.equal(Buffer.from(await bob.authDecrypt(Buffer.from(text, 'base64'), aliceCard)).toString('utf8'), 'zwölf ✓');
  // Groups take the same inputs.
  const group = await alice.createGroup(id('data-g'), bobCard);
  const loaded = await bob.loadGroup(group.id, aliceCard);
  const groupMessage = await group.encrypt(new Uint16Array(backing, 2, 3));
  const view = new DataView(groupMessage.buffer, groupMessage.byteOffset, groupMessage.byteLength);
  assert.deepEqual(await loaded.decrypt(view, aliceCard), slice(2, 8));

  // Anything else: invalid_input, before any network or crypto.
  for (const bad of [42, 42n, {}, { value: 'x', encoding: 'utf8' }, [1, 2, 3], null, undefined, true, new Blob(['x'])]) {
    await rejectsWith(alice.authEncrypt(bad, bobCard), t.InvalidInputError, 'invalid_input');
    await rejectsWith(alice.encrypt(bad, bobCard), t.InvalidInputError, 'invalid_input');
    await rejectsWith(bob.authDecrypt(bad, aliceCard), t.InvalidInputError, 'invalid_input');
    await rejectsWith(bob.decrypt(bad, aliceCard), t.InvalidInputError, 'invalid_input');
    await rejectsWith(group.encrypt(bad), t.InvalidInputError, 'invalid_input');
  }
});

test('backup and restore across two key-store directories; changePassword; resetPrivateKeyBackup', async () => {
  const name = id('backup');
  const laptop = await registered(name);
  const peer = await registered(id('backup-peer'));
  const message = await peer.authEncrypt('for every device', await peer.findUsers(name));
  const peerCard = await laptop.findUsers(peer.identity);

  await rejectsWith(laptop.restorePrivateKey('pw'), t.PrivateKeyAlreadyExistsError, 'private_key_already_exists');
  const phone = await device(name);
  await rejectsWith(phone.restorePrivateKey('pw'), t.PrivateKeyNoBackupError, 'no_backup');
  await laptop.backupPrivateKey('correct horse');
  await rejectsWith(laptop.backupPrivateKey('again'), t.TesseraError, 'backup_already_exists');
  await rejectsWith(phone.restorePrivateKey('wrong'), t.WrongKeyknoxPasswordError, 'wrong_password');
  await rejectsWith(phone.restorePrivateKey(''), t.InvalidInputError, 'invalid_input');
  assert.equal(await phone.hasLocalPrivateKey(), false);
  await phone.restorePrivateKey('correct horse');
  assert.equal(await phone.hasLocalPrivateKey(), true);
  assert.equal(phone.ownCard.id, laptop.ownCard.id);
  assert.notEqual(phone.directory, laptop.directory);
  assert.equal(await phone.authDecrypt(message, peerCard), 'for every device');

  await rejectsWith(laptop.changePassword('wrong', 'new'), t.WrongKeyknoxPasswordError, 'wrong_password');
  await laptop.changePassword('correct horse', 'battery staple');
  const tablet = await device(name);
  await rejectsWith(tablet.restorePrivateKey('correct horse'), t.WrongKeyknoxPasswordError, 'wrong_password');
  await tablet.restorePrivateKey('battery staple');
  assert.equal(await tablet.authDecrypt(message, peerCard), 'for every device');

  await laptop.resetPrivateKeyBackup();
  await rejectsWith(laptop.resetPrivateKeyBackup(), t.PrivateKeyNoBackupError, 'no_backup');
  await rejectsWith(device(name).then((d) => d.restorePrivateKey('battery staple')), t.PrivateKeyNoBackupError, 'no_backup');
  await rejectsWith(laptop.changePassword('battery staple', 'x'), t.PrivateKeyNoBackupError, 'no_backup');

  const stranger = await device(id('never-registered'));
  await rejectsWith(stranger.backupPrivateKey('pw'), t.MissingPrivateKeyError, 'missing_private_key');
});

test('derivePasswords: one password → two, deterministic, salted per app and user', async () => {
  const alice = { appId: 'app-test', identity: 'alice' };
  const a = await t.Tessera.derivePasswords('typed by the user', alice);
  const b = await t.Tessera.derivePasswords('typed by the user', alice);
  assert.deepEqual(a, b);
  assert.notEqual(a.loginPassword, a.backupPassword);
  assert.deepEqual(a, t.derivePasswords('typed by the user', alice));
  const bob = await t.Tessera.derivePasswords('typed by the user', { appId: 'app-test', identity: 'bob' });
  assert.notEqual(bob.loginPassword, a.loginPassword);
  const otherApp = t.derivePasswords('typed by the user', { appId: 'other-app', identity: 'alice' });
  assert.notEqual(otherApp.loginPassword, a.loginPassword);
  await rejectsWith(t.Tessera.derivePasswords('', alice), t.InvalidInputError, 'invalid_input');
  await rejectsWith(t.Tessera.derivePasswords('pw'), t.InvalidInputError, 'invalid_input');
  await rejectsWith(t.Tessera.derivePasswords('pw', { appId: 'app' }), t.InvalidInputError, 'invalid_input');
  await rejectsWith(t.Tessera.derivePasswords('pw', { appId: '', identity: 'alice' }), t.InvalidInputError, 'invalid_input');
  await rejectsWith(t.Tessera.derivePasswords('pw', { appId: 'app', identity: 'a b' }), t.InvalidInputError, 'invalid_input');
});

test('rotatePrivateKey after losing the key; others notice; old messages need madeAt', async () => {
  const name = id('rotate');
  const changed = [];
  const alice = await registered(name);
  const bob = await device(id('rotate-b'), { onKeyChanged: (identity) => changed.push(identity) });
  await bob.register();
  const oldCard = await bob.findUsers(name);
  const bobCard = await alice.findUsers(bob.identity);
  const before = await alice.authEncrypt('signed with the first key', bobCard);
  const madeAt = new Date();
  await sleep(1100); // card times are whole seconds: the new card must be strictly later

  await rejectsWith(alice.rotatePrivateKey(), t.PrivateKeyAlreadyExistsError, 'private_key_already_exists');
  await alice.cleanup();
  assert.equal(await alice.hasLocalPrivateKey(), false);
  assert.equal(readdirSync(alice.directory).length, 0, 'cleanup removes every entry');
  const newCard = await alice.rotatePrivateKey();
  assert.equal(newCard.previousCardId, oldCard.id);
  await rejectsWith(device(id('rotate-unknown')).then((d) => d.rotatePrivateKey()), t.RegisterRequiredError, 'not_registered');

  assert.deepEqual(await bob.updateCachedUsers(), [name]);
  assert.deepEqual(changed, [name]);
  const current = await bob.findCachedUsers(name);
  assert.equal(current.id, newCard.id);
  const after = await alice.authEncrypt('signed with the new key', await alice.findUsers(bob.identity));
  assert.equal(await bob.authDecrypt(after, current), 'signed with the new key');
  // Signed by the replaced key: verifiable only with the time it was made.
  await rejectsWith(bob.authDecrypt(before, current), t.IntegrityCheckFailedError, 'made_at_required');
  assert.equal(await bob.authDecrypt(before, current, madeAt), 'signed with the first key');
  await rejectsWith(bob.authDecrypt(before, current, new Date()), t.IntegrityCheckFailedError, 'signer_key_replaced');
});

test('unregister revokes the card and deletes the key', async () => {
  const alice = await registered(id('unreg'));
  const bob = await registered(id('unreg-b'));
  await bob.findUsers(alice.identity);
  await alice.unregister();
  assert.equal(await alice.hasLocalPrivateKey(), false);
  await rejectsWith(bob.findUsers(alice.identity), t.UsersNotFoundError, 'users_not_found');
  assert.deepEqual(await bob.updateCachedUsers(), [alice.identity]);
  await rejectsWith(alice.unregister(), t.RegisterRequiredError, 'not_registered');
  // The identity can register again afterwards.
  await alice.register();
});

test('encryptFile / decryptFile: Blob, File and ReadableStream, progress, abort, tampering', async () => {
  const alice = await registered(id('file-a'));
  const bob = await registered(id('file-b'));
  const bobCard = await alice.findUsers(bob.identity);
  const aliceCard = await bob.findUsers(alice.identity);
  const data = Uint8Array.from({ length: 700_001 }, (_, i) => (i * 13 + 7) % 256);

  const progress = [];
  const sealed = await alice.encryptFile(new File([data], 'scan.pdf', { type: 'application/pdf' }), bobCard, {
    onProgress: (p) => progress.push(p),
  });
  assert.ok(sealed instanceof File);
  assert.equal(sealed.name, 'scan.pdf');
  assert.deepEqual(progress.at(-1), { bytesProcessed: data.length, fileSize: data.length });
  const opened = await bob.decryptFile(sealed, aliceCard);
  assert.deepEqual(new Uint8Array(await opened.arrayBuffer()), data);
  // Messages and files share one format: a file decrypts with authDecrypt too.
  assert.deepEqual(await bob.authDecrypt(new Uint8Array(await sealed.arrayBuffer()), aliceCard), data);

  const streamed = await collect(await alice.encryptFile(streamOf(data, 10_000), [bobCard]));
  assert.deepEqual(await collect(await bob.decryptFile(streamOf(streamed, 4_321), aliceCard)), data);
  // The sender is the default for decryptFile (its own files).
  assert.deepEqual(await collect(await alice.decryptFile(streamOf(streamed, 65_536))), data);
  // E3Kit's current names are the same methods.
  const viaE3KitNames = await alice.authEncryptFile(new Blob([data]), bobCard);
  assert.deepEqual(new Uint8Array(await (await bob.authDecryptFile(viaE3KitNames, aliceCard)).arrayBuffer()), data);
  await rejectsWith(bob.authDecryptFile(viaE3KitNames, bobCard), t.IntegrityCheckFailedError, 'wrong_sender');

  const tampered = new Uint8Array(await sealed.arrayBuffer());
  tampered[tampered.length - 10] ^= 1;
  await rejectsWith(bob.decryptFile(new Blob([tampered]), aliceCard), t.IntegrityCheckFailedError, 'decryption_failed');
  await rejectsWith(collect(await bob.decryptFile(streamOf(tampered, 65_536), aliceCard)), t.IntegrityCheckFailedError, 'decryption_failed');
  await rejectsWith(bob.decryptFile(sealed, bobCard), t.IntegrityCheckFailedError, 'wrong_sender');

  const controller = new AbortController();
  await rejectsWith(
    alice.encryptFile(new Blob([data, data]), bobCard, { signal: controller.signal, onProgress: () => controller.abort() }),
    t.AbortError,
    'cancelled',
  );
  await rejectsWith(alice.encryptFile(new Blob([data]), bobCard, { signal: AbortSignal.abort() }), t.AbortError, 'cancelled');
  await rejectsWith(bob.decryptFile(sealed, aliceCard, { signal: AbortSignal.abort() }), t.AbortError, 'cancelled');
  await rejectsWith(alice.encryptFile('not a file', bobCard), t.InvalidInputError, 'invalid_input');
});

test('groups: create, load, encrypt/decrypt, add with history, remove, reAdd, update, delete', async () => {
  const alice = await registered(id('grp-a'));
  const bob = await registered(id('grp-b'));
  const carol = await registered(id('grp-c'));
  const groupId = `chat-${run}`;
  const aliceCard = await bob.findUsers(alice.identity);

  const group = await alice.createGroup(groupId, await alice.findUsers([bob.identity]));
  assert.ok(group instanceof t.Group);
  assert.equal(group.id, groupId);
  assert.equal(group.initiator, alice.identity);
  assert.equal(group.epoch, 0);
  assert.deepEqual([...group.participants].sort(), [alice.identity, bob.identity].sort());
  await rejectsWith(alice.createGroup(groupId, await alice.findUsers([bob.identity])), t.GroupError, 'group_already_exists');

  const first = await group.encrypt('welcome');
  assert.equal(typeof first, 'string');
  const bobGroup = await bob.loadGroup(groupId, aliceCard);
  assert.equal(await bobGroup.decrypt(first, aliceCard), 'welcome');
  const reply = await bobGroup.encrypt(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await group.decrypt(reply, await alice.findUsers(bob.identity)), new Uint8Array([1, 2, 3]));
  await rejectsWith(carol.loadGroup(groupId, await carol.findUsers(alice.identity)), t.GroupError, 'group_not_found');
  await rejectsWith(bobGroup.add(await bob.findUsers([carol.identity])), t.GroupError, 'not_group_initiator');

  // Carol joins with the history (E3Kit's behaviour): she reads what came before.
  await group.add(await alice.findUsers([carol.identity]));
  assert.equal(group.epoch, 1);
  const carolGroup = await carol.loadGroup(groupId, await carol.findUsers(alice.identity));
  assert.equal(await carolGroup.decrypt(first, await carol.findUsers(alice.identity)), 'welcome');

  // Bob is removed: he cannot read what is sent afterwards, even after updating.
  await group.remove(bob.identity);
  assert.equal(group.epoch, 2);
  assert.deepEqual([...group.participants].sort(), [alice.identity, carol.identity].sort());
  const secret = await group.encrypt('after bob left');
  await rejectsWith(bobGroup.decrypt(secret, aliceCard), t.GroupError, 'group_epoch_unknown');
  // What he still writes with the old epoch's key is refused: he was removed before.
  const late = await bobGroup.encrypt('still here?');
  await rejectsWith(group.decrypt(late, await alice.findUsers(bob.identity)), t.GroupError, 'sender_not_participant');
  assert.equal(await carolGroup.decrypt(secret, await carol.findUsers(alice.identity)), 'after bob left');
  await carolGroup.update();
  assert.equal(carolGroup.epoch, 2);

  // getGroup works from the device's own store, without the server.
  const cached = await carol.getGroup(groupId);
  assert.equal(cached.epoch, 2);
  assert.equal(await carol.getGroup(`unknown-${run}`), null);

  // Carol loses her key and rotates; the initiator re-adds her, and she reads old epochs.
  await carol.cleanup();
  const carolNew = await carol.rotatePrivateKey();
  await alice.updateCachedUsers();
  await group.reAdd(await alice.findUsers(carol.identity));
  assert.equal(carolNew.identity, carol.identity);
  const again = await carol.loadGroup(groupId, await carol.findUsers(alice.identity));
  assert.equal(await again.decrypt(secret, await carol.findUsers(alice.identity)), 'after bob left');

  await rejectsWith(carol.deleteGroup(groupId), t.GroupError, 'not_group_initiator');
  await alice.deleteGroup(groupId);
  assert.equal(await alice.getGroup(groupId), null);
  await rejectsWith(carol.loadGroup(groupId, await carol.findUsers(alice.identity)), t.GroupError, 'group_not_found');
  await rejectsWith(alice.createGroup('bad id with spaces', []), t.InvalidInputError, 'invalid_input');
});

test('an app-supplied key store object is used as is', async () => {
  const entries = new Map();
  const keyStore = {
    get: async (name) => entries.get(name),
    set: async (name, value) => void entries.set(name, value.slice()),
    delete: async (name) => void entries.delete(name),
  };
  const name = id('custom-store');
  const alice = await t.Tessera.initialize(server.tokenFor(name), { serverUrl: server.url, keyStore });
  await alice.register();
  assert.ok([...entries.keys()].every((key) => key.startsWith(`tessera/${name}/`)));
  assert.ok(entries.has(`tessera/${name}/root-secret`));
  await alice.cleanup();
  assert.equal(entries.size, 0);

  const failing = { get: async () => { throw new Error('disk on fire'); }, set: async () => {}, delete: async () => {} };
  await assert.rejects(
    t.Tessera.initialize(server.tokenFor(name), { serverUrl: server.url, keyStore: failing }),
    (error) => error.code === 'key_store' && /disk on fire/.test(error.message),
  );
});

test('offline start with a known identity; network and token failures have their codes', async () => {
  const name = id('offline');
  const alice = await registered(name);
  const bob = await registered(id('offline-b'));
  await alice.findUsers(bob.identity);
  const dead = 'http://127.0.0.1:9'; // discard port: nothing listens
  const refuse = () => { throw new Error('backend down'); };
  const offline = await t.Tessera.initialize(refuse, {
    serverUrl: dead,
    identity: name,
    keyStore: new t.FileKeyStore({ directory: alice.directory }),
  });
  assert.equal(await offline.hasLocalPrivateKey(), true);
  const bobCard = await offline.findCachedUsers(bob.identity);
  const message = await offline.authEncrypt('written on a plane', bobCard);
  assert.equal(await bob.authDecrypt(message, await bob.findUsers(name)), 'written on a plane');
  await rejectsWith(offline.findUsers(bob.identity), t.TesseraError, 'token_provider');

  const unreachable = await t.Tessera.initialize(server.tokenFor(name), {
    serverUrl: dead,
    identity: name,
    keyStore: new t.MemoryKeyStore(),
  });
  await rejectsWith(unreachable.findUsers(bob.identity), t.NetworkError, 'network');
  await rejectsWith(t.Tessera.initialize(refuse, { serverUrl: server.url, keyStore: new t.MemoryKeyStore() }), t.TesseraError, 'token_provider');
  // A token for someone else is refused before it reaches the server.
  const mixedUp = await t.Tessera.initialize(server.tokenFor(bob.identity), {
    serverUrl: server.url,
    identity: name,
    keyStore: new t.MemoryKeyStore(),
  });
  await rejectsWith(mixedUp.findUsers(bob.identity), t.TesseraError, 'token_provider');
  // An app-supplied fetch is used for every request.
  let requests = 0;
  const counting = await t.Tessera.initialize(server.tokenFor(name), {
    serverUrl: server.url,
    keyStore: new t.MemoryKeyStore(),
    fetch: (...args) => {
      requests += 1;
      return fetch(...args);
    },
  });
  await counting.findUsers(bob.identity);
  assert.ok(requests >= 1);
});
