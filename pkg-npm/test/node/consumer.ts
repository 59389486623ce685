// Type-checked (tsc --strict) by package.test.mjs against the published declarations.
import {
  init, KeyPair, Card, encrypt, decrypt, sealFile, openFile, derivePasswords, TesseraError,
  IntegrityCheckFailedError, MemoryKeyStore, type KeyStore, type Decrypted, type FileProgress,
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
  const { loginPassword } = derivePasswords('pw');
  try {
    decrypt(alice, envelope.subarray(1), card);
  } catch (error) {
    if (error instanceof IntegrityCheckFailedError) return error.code;
    if (error instanceof TesseraError) return error.code + loginPassword;
  }
  return new TextDecoder().decode(result.plaintext);
}
