// Type-checked (tsc --strict) by package.test.mjs against the published declarations.
import {
  init, KeyPair, Card, encrypt, decrypt, sealFile, openFile, derivePasswords, TesseraError,
  IntegrityCheckFailedError, MemoryKeyStore, type KeyStore, type Decrypted, type FileProgress,
  Tessera, Group, UsersNotFoundError, NetworkError, type FindUsersResult, type Data,
} from 'tessera-e2ee';

export async function roundTrip(): Promise<string> {
  await init();
  const alice: KeyPair = KeyPair.generate();
  const card: Card = Card.create(alice, 'alice');
  const envelope: Uint8Array = encrypt(alice, [card], new TextEncoder().encode('hi'));
  const result: Decrypted = decrypt(alice, envelope, card);
  const store: KeyStore = new MemoryKeyStore();
  await store.set('k', result.plaintext);
  const progress: FileProgress[] = [];
  const sealed: Blob = await sealFile(new Blob(['x']), alice, card, { onProgress: (p) => progress.push(p) });
  const opened: Blob = await openFile(sealed, alice, [card], { signal: new AbortController().signal });
  const stream: ReadableStream<Uint8Array> = sealFile(opened.stream(), alice, card);
  void stream;
  const { loginPassword } = derivePasswords('pw', { appId: 'app', identity: 'alice' });
  try {
    decrypt(alice, envelope.subarray(1), card);
  } catch (error) {
    if (error instanceof IntegrityCheckFailedError) return error.code;
    if (error instanceof TesseraError) return error.code + loginPassword;
  }
  return new TextDecoder().decode(result.plaintext);
}

// The client's declarations: overloads pick string vs bytes, one vs several users.
export async function client(getToken: () => Promise<string>): Promise<string> {
  const tessera: Tessera = await Tessera.initialize(getToken, {
    serverUrl: 'https://tessera.example.com',
    keyStore: new MemoryKeyStore(),
    onKeyChanged: (identity: string) => void identity,
  });
  if (!(await tessera.hasLocalPrivateKey())) await tessera.register();
  const bob: Card = await tessera.findUsers('bob');
  const users: FindUsersResult = await tessera.findUsers(['bob', 'carol']);
  const text: string = await tessera.authEncrypt('hi', users);
  const bytes: Uint8Array = await tessera.authEncrypt(new Uint8Array(1), [bob]);
  const back: string = await tessera.authDecrypt(text, bob, new Date());
  const raw: Uint8Array = await tessera.authDecrypt(bytes);
  const file: Blob = await tessera.encryptFile(new Blob(['x']), bob, { onProgress: (p: FileProgress) => void p });
  const stream: ReadableStream<Uint8Array> = await tessera.decryptFile(file.stream(), bob, { madeAt: new Date() });
  void stream;
  const group: Group | null = await tessera.getGroup('g');
  const created: Group = group ?? (await tessera.createGroup('g', users));
  await created.add(bob, { shareHistory: false });
  await created.remove('carol');
  const message: string = await created.encrypt('to the group');
  const epoch: number = created.epoch;
  const { backupPassword } = await Tessera.derivePasswords('pw', { appId: 'app', identity: 'alice' });
  await tessera.backupPrivateKey(backupPassword);
  try {
    await tessera.findUsers(['nobody']);
  } catch (error) {
    if (error instanceof UsersNotFoundError) return error.identities.join(',');
    if (error instanceof NetworkError) return `${error.status ?? ''}${error.serverCode ?? ''}`;
  }
  return `${back}${raw.length}${message}${epoch}${await tessera.safetyNumber(bob)}`;
}

// E3Kit's tutorial as written (its older, deprecated names; any bytes in). TypeScript's
// own lib wants `new ArrayBuffer(0)` where the JavaScript tutorial writes `new ArrayBuffer()`.
export async function tutorial(eThree: Tessera, aliceUID: string, bobUID: string): Promise<string> {
  const publicKeys = await eThree.lookupPublicKeys([aliceUID, bobUID]);
  const encryptedData = await eThree.encrypt(new ArrayBuffer(0), publicKeys);
  const encryptedText = await eThree.encrypt('this text will be encrypted', publicKeys);
  const publicKey = await eThree.lookupPublicKeys(bobUID);
  const decryptedData: Uint8Array = await eThree.decrypt(encryptedData, publicKey);
  const decryptedText: string = await eThree.decrypt(encryptedText, publicKey);
  const inputs: Data[] = [new Int16Array(2), new DataView(new ArrayBuffer(4)), new Float64Array(1), 'x'];
  let total = decryptedData.length;
  for (const input of inputs) {
    const sealed: string | Uint8Array = await eThree.authEncrypt(input, publicKeys);
    const opened: string | Uint8Array = await eThree.authDecrypt(sealed);
    total += opened.length;
  }
  const fromView: Uint8Array = await eThree.authEncrypt(new Uint16Array([1, 2]).subarray(1));
  return `${decryptedText}${total}${fromView.length}`;
}

// E3Kit's current file method names.
export async function filesByE3KitNames(eThree: Tessera, bob: Card, file: File): Promise<number> {
  const sealed: Blob = await eThree.authEncryptFile(file, bob);
  const opened: Blob = await eThree.authDecryptFile(sealed, bob);
  return opened.size;
}
