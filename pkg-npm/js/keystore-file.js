// Node's default key store: one file per entry in a directory created with mode 0700,
// each file written atomically (temporary file, fsync, rename) with mode 0600.

import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { invalidInput, TesseraError } from './errors.js';

const SAFE = /^[A-Za-z0-9._-]$/;

// Entry names are ASCII (docs: KeyStore contract). Readable when short; hashed when the
// escaped form would be too long for a file name.
function fileNameOf(name) {
  let escaped = 'e-';
  for (const c of name) {
    escaped += SAFE.test(c) ? c : `%${c.codePointAt(0).toString(16).padStart(2, '0')}`;
  }
  return escaped.length <= 200 ? escaped : `h-${createHash('sha256').update(name).digest('hex')}`;
}

function storeError(what, cause) {
  const detail = cause && cause.code ? ` (${cause.code})` : '';
  return new TesseraError(`the file key store could not ${what}${detail}`, 'key_store');
}

export class FileKeyStore {
  #directory;
  #ready = null;

  /** `directory` defaults to ~/.tessera-e2ee. */
  constructor(options = {}) {
    this.#directory = options.directory ?? join(homedir(), '.tessera-e2ee');
    if (typeof this.#directory !== 'string' || this.#directory.length === 0) {
      throw invalidInput('directory must be a non-empty string');
    }
  }

  /** The directory holding the entries. */
  get directory() {
    return this.#directory;
  }

  #prepare() {
    this.#ready ??= (async () => {
      await fs.mkdir(this.#directory, { recursive: true, mode: 0o700 });
      await fs.chmod(this.#directory, 0o700);
    })().catch((error) => {
      this.#ready = null;
      throw storeError('create its directory', error);
    });
    return this.#ready;
  }

  async get(name) {
    await this.#prepare();
    try {
      return new Uint8Array(await fs.readFile(join(this.#directory, fileNameOf(name))));
    } catch (error) {
      if (error.code === 'ENOENT') return null;
      throw storeError('read an entry', error);
    }
  }

  async set(name, value) {
    await this.#prepare();
    const target = join(this.#directory, fileNameOf(name));
    const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const file = await fs.open(temporary, 'wx', 0o600);
      try {
        await file.writeFile(value);
        await file.sync();
      } finally {
        await file.close();
      }
      await fs.rename(temporary, target);
    } catch (error) {
      await fs.rm(temporary, { force: true }).catch(() => {});
      throw storeError('write an entry', error);
    }
  }

  async delete(name) {
    await this.#prepare();
    try {
      await fs.rm(join(this.#directory, fileNameOf(name)), { force: true });
    } catch (error) {
      throw storeError('delete an entry', error);
    }
  }
}
