// Every case of every file in test-vectors/, through the npm package.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import * as t from 'tessera-e2ee';

import { hex, vectors } from './helpers.mjs';

before(() => t.init());

const keyPairOf = (rootHex) => t.KeyPair.fromRootSecret(hex.decode(rootHex));
const cardsOf = (list) => list.map((c) => t.Card.fromParts(hex.decode(c.snapshot), hex.decode(c.signature)));
const dateOf = (seconds) => (seconds == null ? undefined : new Date(seconds * 1000));

function expectCode(fn, code, name) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof t.TesseraError, `${name}: not a TesseraError: ${error}`);
    assert.equal(error.code, code, `${name}: ${error.message}`);
    return true;
  });
}

test('keys.json: derived public keys and key ids', () => {
  const { cases } = vectors('keys.json');
  assert.ok(cases.length > 0);
  for (const c of cases) {
    const keys = keyPairOf(c.root_secret);
    assert.equal(hex.encode(keys.signingPublicKey), c.ed25519_public_key);
    assert.equal(hex.encode(keys.encryptionPublicKey), c.x25519_public_key);
    assert.equal(hex.encode(keys.signingKeyId), c.signing_key_id);
    assert.equal(hex.encode(keys.encryptionKeyId), c.encryption_key_id);
    assert.equal(hex.encode(keys.rootSecret()), c.root_secret);
  }
});

test('safety-numbers.json: both argument orders', () => {
  const { cases } = vectors('safety-numbers.json');
  assert.ok(cases.length > 0);
  const when = new Date(1767225600 * 1000);
  for (const c of cases) {
    const a = t.Card.create(keyPairOf(c.root_secret_a), c.identity_a, when);
    const b = t.Card.create(keyPairOf(c.root_secret_b), c.identity_b, when);
    assert.equal(t.safetyNumber(a, b), c.safety_number);
    assert.equal(t.safetyNumber(b, a), c.safety_number);
  }
});

test('cards.json: valid cards parse, re-create byte for byte; invalid ones fail with their kind', () => {
  const { cases } = vectors('cards.json');
  assert.ok(cases.some((c) => c.valid) && cases.some((c) => !c.valid));
  for (const c of cases) {
    const parse = () => t.Card.fromParts(hex.decode(c.snapshot), hex.decode(c.signature));
    if (!c.valid) {
      expectCode(parse, c.error, c.name);
      continue;
    }
    const card = parse();
    assert.equal(card.id, c.card_id, c.name);
    assert.equal(card.identity, c.identity);
    assert.equal(card.toText(), c.text);
    assert.equal(t.Card.fromText(c.text).id, c.card_id);
    assert.equal(card.createdAt.getTime(), c.created_at * 1000);
    assert.equal(card.previousCardId ?? null, c.previous_card_id);
    const remade = t.Card.create(keyPairOf(c.root_secret), c.identity, dateOf(c.created_at), c.previous_card_id ?? undefined);
    assert.equal(hex.encode(remade.snapshot), c.snapshot, `${c.name}: snapshot`);
    assert.equal(hex.encode(remade.signature), c.signature, `${c.name}: Ed25519 is deterministic`);
  }
});

test('envelopes.json: valid envelopes decrypt and verify; damaged ones fail with their kind', () => {
  const { cases } = vectors('envelopes.json');
  assert.ok(cases.some((c) => c.valid) && cases.some((c) => !c.valid));
  for (const c of cases) {
    const reader = keyPairOf(c.decrypt_with_root_secret);
    const chain = cardsOf(c.sender_cards);
    const envelope = hex.decode(c.envelope);
    const run = () => t.decrypt(reader, envelope, chain, dateOf(c.made_at));
    if (!c.valid) {
      expectCode(run, c.error, c.name);
      // The streaming decryptor must agree, fed in uneven pieces.
      expectCode(() => {
        const stream = new t.DecryptStream(reader);
        for (let i = 0; i < envelope.length; i += 7919) stream.update(envelope.subarray(i, i + 7919));
        stream.finish(chain, dateOf(c.made_at));
      }, c.error, `${c.name} (stream)`);
      continue;
    }
    const result = run();
    assert.equal(hex.encode(result.plaintext), c.plaintext, c.name);
    assert.equal(result.signerCardId, c.signer_card_id, c.name);
    const stream = new t.DecryptStream(reader);
    const parts = [];
    for (let i = 0; i < envelope.length; i += 4099) parts.push(stream.update(envelope.subarray(i, i + 4099)));
    parts.push(stream.finish(chain, dateOf(c.made_at)).plaintext);
    assert.equal(Buffer.concat(parts).toString('hex'), c.plaintext, `${c.name} (stream)`);
  }
});

test('backups.json: blobs open to their root secret; derive_passwords; failures by kind', () => {
  const { cases } = vectors('backups.json');
  let derived = 0;
  for (const c of cases) {
    if (c.derive_passwords !== undefined) {
      derived += 1;
      const salt = { appId: c.app_id, identity: c.identity };
      if (!c.valid) {
        expectCode(() => t.derivePasswords(c.derive_passwords, salt), c.error, c.name);
        continue;
      }
      const passwords = t.derivePasswords(c.derive_passwords, salt);
      assert.equal(passwords.loginPassword, c.login_password);
      assert.equal(passwords.backupPassword, c.backup_password);
      continue;
    }
    const open = () => t.openBackup(hex.decode(c.blob), c.password);
    if (c.valid) {
      assert.equal(hex.encode(open().rootSecret()), c.root_secret, c.name);
    } else {
      expectCode(open, c.error, c.name);
    }
  }
  assert.ok(derived > 0);
});

test('tokens.json: the verifier accepts and rejects as specified; minting reproduces the valid token', () => {
  const file = vectors('tokens.json');
  const verifier = new t.TokenVerifier(file.issuer, file.audience, file.app_public_keys.map(hex.decode));
  const appKey = t.AppKey.fromSeed(hex.decode(file.app_seed));
  assert.ok(file.app_public_keys.includes(hex.encode(appKey.publicKey)));
  assert.equal(t.AppKey.defaultAudience(file.issuer), file.audience);
  for (const c of file.cases) {
    const verify = () => verifier.verify(c.token, dateOf(c.now));
    if (!c.valid) {
      expectCode(verify, c.error, c.name);
      continue;
    }
    const claims = verify();
    const { aud, ...rest } = c.claims;
    assert.deepEqual(
      { iss: claims.iss, sub: claims.sub, iat: claims.iat, exp: claims.exp, ...(claims.nbf === undefined ? {} : { nbf: claims.nbf }) },
      rest,
      c.name,
    );
    assert.deepEqual(claims.aud, typeof aud === 'string' ? [aud] : aud, `${c.name}: aud`);
    if (c.minted) {
      const minted = appKey.mint(c.claims.iss, aud, c.claims.sub, dateOf(c.claims.iat), c.claims.exp - c.claims.iat);
      assert.equal(minted, c.token, `${c.name}: EdDSA tokens are deterministic`);
    }
  }
});

test('groups.json: tickets open for their readers; group messages decrypt or fail by kind', () => {
  const { cases } = vectors('groups.json');
  const keysOf = (epochs) => {
    const keys = new t.GroupKeys();
    for (const e of epochs) keys.insert(t.EpochKey.fromParts(e.epoch, hex.decode(e.secret), e.participants));
    return keys;
  };
  const plain = (epochs) =>
    epochs.map((e) => ({ epoch: e.epoch, secret: hex.encode(e.secret), participants: e.participants })).sort((a, b) => a.epoch - b.epoch);
  let tickets = 0;
  let messages = 0;
  for (const c of cases) {
    if (c.kind === 'ticket') {
      for (const reader of c.readers) {
        tickets += 1;
        const open = () =>
          t.openTicketBlob(hex.decode(c.blob), keyPairOf(reader.root_secret), c.group_id, c.stored_epoch, cardsOf(c.initiator_cards), dateOf(reader.made_at ?? c.made_at));
        if (reader.valid) {
          assert.deepEqual(plain(open()), plain(reader.epochs.map((e) => ({ ...e, secret: hex.decode(e.secret) }))), c.name);
        } else {
          expectCode(open, reader.error, `${c.name} / reader`);
        }
      }
      continue;
    }
    messages += 1;
    const message = hex.decode(c.message);
    const run = () => t.decryptGroupMessage(c.group_id, keysOf(c.epochs), message, cardsOf(c.sender_cards), dateOf(c.made_at));
    if (!c.valid) {
      expectCode(run, c.error, c.name);
      continue;
    }
    assert.equal(hex.encode(run().plaintext), c.plaintext, c.name);
    assert.equal(t.groupMessageInfo(message).epoch, c.epoch);
  }
  assert.ok(tickets > 0 && messages > 0);
});
