// A key store in memory: nothing survives a reload. For tests and for apps that keep
// keys elsewhere. Values are copied in and out so callers cannot alias them.

export class MemoryKeyStore {
  #entries = new Map();

  async get(name) {
    const value = this.#entries.get(name);
    return value === undefined ? null : value.slice();
  }

  async set(name, value) {
    this.#entries.set(name, Uint8Array.from(value));
  }

  async delete(name) {
    const value = this.#entries.get(name);
    if (value !== undefined) value.fill(0);
    this.#entries.delete(name);
  }
}
