// Shared by the node:test suites. They run inside a temporary project where the packed
// tarball is installed, so `tessera-e2ee` resolves exactly as it does for users.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (scripts/test-npm sets it)`);
  return value;
}

export const hex = {
  decode: (text) => Uint8Array.from(Buffer.from(text, 'hex')),
  encode: (bytes) => Buffer.from(bytes).toString('hex'),
};

export function vectors(file) {
  return JSON.parse(readFileSync(join(required('TESSERA_VECTORS_DIR'), file), 'utf8'));
}
