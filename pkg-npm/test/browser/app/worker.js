// A module Web Worker using the package (IndexedDB and WebCrypto exist in workers too).
import { clientRegister, register, reopen } from './app.js';

self.onmessage = async (event) => {
  try {
    const first = await register(event.data.databaseName);
    const again = await reopen(event.data.databaseName);
    const client = event.data.client ? await clientRegister(event.data.client) : undefined;
    self.postMessage({ result: { first, again, client } });
  } catch (error) {
    self.postMessage({ error: `${error.name}: ${error.message}` });
  }
};
