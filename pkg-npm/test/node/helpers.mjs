// Shared by the node:test suites. They run inside a temporary project where the packed
// tarball is installed, so `tessera-e2ee` resolves exactly as it does for users.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

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

/**
 * The tessera-server scripts/test-npm started for this run: its URL, and `getToken`
 * callbacks that mint development tokens with `tessera-server token` (the CLI the docs
 * give app developers), exactly as an app backend would hand them out.
 */
export function testServer() {
  const url = required('TESSERA_SERVER_URL');
  const binary = required('TESSERA_SERVER_BIN');
  const dataDir = required('TESSERA_SERVER_DATA');
  let minted = 0;
  const tokenFor = (identity) => async () => {
    minted += 1;
    const { stdout } = await execFileAsync(binary, ['token', '--identity', identity, '--data-dir', dataDir]);
    return stdout.trim().split('\n').at(-1);
  };
  return { url, tokenFor, minted: () => minted };
}
