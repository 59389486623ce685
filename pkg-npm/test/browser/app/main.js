// Page entry: exposes the test functions to the Playwright driver, plus a Web Worker run.
import {
  clientKdfOffMainThread,
  clientRegister,
  clientReopen,
  clientStoreShape,
  derivePasswordsWithoutWorkers,
  dumpIndexedDb,
  register,
  reopen,
} from './app.js';

function inWorker(databaseName, client) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (event) => {
      worker.terminate();
      if (event.data.error) reject(new Error(event.data.error));
      else resolve(event.data.result);
    };
    worker.onerror = (event) => reject(new Error(event.message || 'worker failed'));
    worker.postMessage({ databaseName, client });
  });
}

window.tesseraTest = {
  register,
  reopen,
  dumpIndexedDb,
  inWorker,
  clientRegister,
  clientReopen,
  clientStoreShape,
  clientKdfOffMainThread,
  derivePasswordsWithoutWorkers,
};
window.tesseraTestReady = true;
