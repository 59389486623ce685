// Argon2id off the main thread in browsers: one Web Worker (js/kdf-worker.js) per page,
// started on first use, given the page's compiled WebAssembly.Module. Where a worker
// cannot start (a Content-Security-Policy without worker-src, an old browser), the same
// computation runs inline: slower for the page, never a failure.

import { plainPasswords } from './shapes.js';

/** Thrown when the worker cannot run at all (as opposed to a computation's own error). */
class WorkerUnavailable extends Error {}

/**
 * `{ argon2id(password, salt, m, t, p, length), derivePasswords(password, appId, identity) }`,
 * each returning a Promise, computed in a worker from `start()` with the module from
 * `module()`, or inline with `wasm` when the worker is unavailable.
 */
export function createKdf(wasm, { start: startWorker, module }, errorFromCode) {
  let worker = null;
  let unavailable = false;
  let nextId = 0;
  const pending = new Map();

  function failAll(reason) {
    unavailable = true;
    worker?.terminate();
    worker = null;
    for (const { reject } of pending.values()) reject(new WorkerUnavailable(reason));
    pending.clear();
  }

  function start() {
    try {
      worker = startWorker();
    } catch (error) {
      failAll(String(error));
      return;
    }
    worker.onmessage = ({ data: { id, result, error } }) => {
      const call = pending.get(id);
      if (!call) return;
      pending.delete(id);
      if (error) call.reject(errorFromCode(error.code, error.message));
      else call.resolve(result);
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      failAll(event.message ?? 'the worker failed to start');
    };
  }

  function inWorker(name, args) {
    if (unavailable) return Promise.reject(new WorkerUnavailable('no worker'));
    if (!worker) start();
    if (unavailable) return Promise.reject(new WorkerUnavailable('no worker'));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      try {
        worker.postMessage({ id, module: module(), name, args });
      } catch (error) {
        // A browser that cannot send a WebAssembly.Module to a worker (DataCloneError).
        failAll(String(error));
      }
    });
  }

  async function run(name, args, inline) {
    try {
      return await inWorker(name, args);
    } catch (error) {
      if (!(error instanceof WorkerUnavailable)) throw error;
      return inline(...args);
    }
  }

  return {
    argon2id: (...args) => run('argon2id', args, wasm.argon2id),
    derivePasswords: (...args) =>
      run('derivePasswords', args, (...inline) => plainPasswords(wasm.derivePasswords(...inline))),
  };
}
