// A module Web Worker using the package (IndexedDB and WebCrypto exist in workers too).
import { register, reopen } from './app.js';

self.onmessage = async (event) => {
  try {
    const first = await register(event.data.databaseName);
    const again = await reopen(event.data.databaseName);
    self.postMessage({ result: { first, again } });
  } catch (error) {
    self.postMessage({ error: `${error.name}: ${error.message}` });
  }
};
