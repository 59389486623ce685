// Browser tests: Debian's Chromium, headless, driven by playwright-core, against pages
// served from 127.0.0.1: plain ES modules (import map), a Vite build and a webpack build,
// each with a fresh persistent profile; Web Workers in the bundled builds. The client
// (`Tessera`) runs in each page against the real tessera-server of scripts/test-npm, which
// allows this origin (CORS); a Node peer (the package's Node build) exchanges messages with
// it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';
import * as tessera from 'tessera-e2ee';
import { build as viteBuild } from 'vite';
import webpack from 'webpack';

const here = fileURLToPath(new URL('.', import.meta.url));
const work = process.env.TESSERA_BROWSER_WORK ?? mkdtempSync(join(tmpdir(), 'tessera-browser-'));
const viteOut = join(work, 'vite-dist');
const webpackOut = join(work, 'webpack-dist');
const chromiumPath = process.env.TESSERA_CHROMIUM;
const serverUrl = process.env.TESSERA_SERVER_URL;
const run = randomBytes(4).toString('hex');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

let server;
let origin;
let peer;

/** A development token from `tessera-server token`, as an app backend would mint it. */
async function token(identity) {
  const { stdout } = await promisify(execFile)(process.env.TESSERA_SERVER_BIN, [
    'token',
    '--identity',
    identity,
    '--data-dir',
    process.env.TESSERA_SERVER_DATA,
  ]);
  return stdout.trim().split('\n').at(-1);
}

// Static files: the test app and node_modules from here, the two builds from `work`.
function resolvePath(url) {
  const path = normalize(decodeURIComponent(new URL(url, 'http://x').pathname));
  if (path.startsWith('/vite/')) return join(viteOut, path.slice('/vite/'.length));
  if (path === '/webpack/index.html') return join(here, 'webpack/index.html');
  if (path.startsWith('/webpack/')) return join(webpackOut, path.slice('/webpack/'.length));
  if (/^\/(app|plain|node_modules)\//.test(path)) return join(here, path);
  return null;
}

before(async () => {
  assert.ok(chromiumPath, 'TESSERA_CHROMIUM must name the chromium binary (scripts/test-npm sets it)');
  assert.ok(serverUrl, 'TESSERA_SERVER_URL must name the test server (scripts/test-npm sets it)');
  process.env.TESSERA_VITE_OUT = viteOut;
  process.env.TESSERA_WEBPACK_OUT = webpackOut;
  await viteBuild({ configFile: join(here, 'vite/vite.config.js') });
  const config = (await import('./webpack/webpack.config.js')).default;
  await new Promise((resolve, reject) =>
    webpack(config, (error, stats) => (error || stats.hasErrors() ? reject(error ?? new Error(stats.toString('errors-only'))) : resolve())),
  );
  server = createServer((request, response) => {
    const file = resolvePath(request.url);
    if (!file || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  // The port scripts/test-npm allowed on the tessera-server (CORS), or any.
  const port = Number(process.env.TESSERA_BROWSER_PORT ?? 0);
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  const peerName = `node-peer-${run}`;
  peer = await tessera.Tessera.initialize(() => token(peerName), {
    serverUrl,
    keyStore: new tessera.MemoryKeyStore(),
  });
  await peer.register();
});

after(() => server?.close());

async function withBrowser(run) {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'tessera-profile-')), {
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await run(page);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
}

async function ready(page) {
  await page.waitForFunction(() => window.tesseraTestReady === true, null, { timeout: 30_000 });
}

async function checkPage(path, { worker }) {
  const identity = `browser-${path.split('/')[1]}-${run}`;
  await withBrowser(async (page) => {
    await page.goto(`${origin}${path}`);
    await ready(page);

    // The client: register from the page, over CORS, with the key in IndexedDB.
    const registered = await page.evaluate((args) => window.tesseraTest.clientRegister(args), {
      serverUrl,
      token: await token(identity),
    });
    assert.equal(registered.identity, identity);
    assert.equal(registered.hadKeyBefore, false);
    assert.equal(registered.message, 'hello from the browser client');
    assert.equal(registered.fileRoundTrip, true);
    // Argon2id (64 MiB, 3 passes) in a worker: the page never stalls for its duration.
    const kdf = await page.evaluate((args) => window.tesseraTest.clientKdfOffMainThread(args), {
      serverUrl,
      token: await token(identity),
    });
    assert.equal(kdf.sameAsInline, true);
    assert.equal(kdf.restored, true);
    assert.ok(
      kdf.longestGapMs < kdf.inlineMs / 2,
      `the main thread stalled ${kdf.longestGapMs} ms (inline Argon2id: ${kdf.inlineMs} ms)`,
    );

    const browserCard = await peer.findUsers(identity);
    assert.equal(browserCard.id, registered.cardId);
    const fromPeer = await peer.authEncrypt('hello browser, from Node', browserCard);

    // The low-level API with an explicit IndexedDbKeyStore.
    const db = 'tessera-test';
    const first = await page.evaluate((name) => window.tesseraTest.register(name), db);
    assert.equal(first.message, 'hello from the browser');
    assert.equal(first.fileRoundTrip, true);
    assert.equal(first.tampered, 'IntegrityCheckFailedError:decryption_failed');

    await page.reload();
    await ready(page);
    const reopened = await page.evaluate((args) => window.tesseraTest.clientReopen(args), {
      serverUrl,
      token: await token(identity),
      envelope: registered.envelope,
      peer: peer.identity,
      fromPeer,
    });
    assert.equal(reopened.hasKey, true, 'the key came back from IndexedDB');
    assert.equal(reopened.cardId, registered.cardId);
    assert.equal(reopened.own, 'hello from the browser client');
    assert.equal(reopened.fromPeer, 'hello browser, from Node');
    assert.equal(await peer.authDecrypt(reopened.toPeer, browserCard), 'hello Node, from the browser');
    // IndexedDB holds the client's entries only as AES-GCM records: the 32-byte root
    // secret is stored as 12-byte IV + 48-byte ciphertext, never as itself.
    const shape = await page.evaluate((name) => window.tesseraTest.clientStoreShape(name), 'tessera-e2ee');
    assert.ok(shape.names.includes(`tessera/${identity}/root-secret`), shape.names.join(' '));
    for (const record of shape.records) {
      assert.equal(record.fields, 'ciphertext,iv,v');
      assert.equal(record.ivLength, 12);
    }
    const secretRecord = shape.records[shape.names.indexOf(`tessera/${identity}/root-secret`)];
    assert.equal(secretRecord.ciphertextLength, 32 + 16);
    const clientDump = await page.evaluate((name) => window.tesseraTest.dumpIndexedDb(name), 'tessera-e2ee');
    assert.deepEqual(clientDump.cryptoKeys, [{ extractable: false, algorithm: 'AES-GCM', exported: 'refused' }]);

    const again = await page.evaluate((name) => window.tesseraTest.reopen(name), db);
    assert.equal(again.message, 'hello from the browser');
    assert.equal(again.rootSecret, first.rootSecret, 'the same key came back from IndexedDB');

    const dump = await page.evaluate((name) => window.tesseraTest.dumpIndexedDb(name), db);
    assert.ok(dump.hexValues.length >= 3, 'IndexedDB holds the entries');
    for (const value of dump.hexValues) {
      assert.ok(!value.includes(first.rootSecret), 'IndexedDB must not hold the raw root secret');
    }
    assert.deepEqual(dump.cryptoKeys, [{ extractable: false, algorithm: 'AES-GCM', exported: 'refused' }]);

    if (worker) {
      const workerIdentity = `${identity}-worker`;
      const result = await page.evaluate((args) => window.tesseraTest.inWorker('tessera-worker', args), {
        serverUrl,
        token: await token(workerIdentity),
      });
      assert.equal(result.first.message, 'hello from the browser');
      assert.equal(result.first.fileRoundTrip, true);
      assert.equal(result.again.rootSecret, result.first.rootSecret);
      // The client in the worker: its own identity, the same IndexedDB key store.
      assert.equal(result.client.identity, workerIdentity);
      assert.equal(result.client.message, 'hello from the browser client');
      assert.equal((await peer.findUsers(workerIdentity)).id, result.client.cardId);
    }
  });
}

test('plain ES modules (import map): the client registers against the server, encrypts, reloads, key still usable from IndexedDB and not raw there', () =>
  checkPage('/plain/index.html', { worker: false }));

test('where no worker can start (a CSP without worker-src), the KDF runs inline and derivePasswords still works', () =>
  withBrowser(async (page) => {
    await page.addInitScript(() => {
      window.Worker = class {
        constructor() {
          throw new DOMException('blocked by the Content-Security-Policy', 'SecurityError');
        }
      };
    });
    await page.goto(`${origin}/plain/index.html`);
    await ready(page);
    assert.equal(await page.evaluate(() => window.tesseraTest.derivePasswordsWithoutWorkers()), true);
  }));

test('Vite build: the same, plus a module Web Worker', () => checkPage('/vite/index.html', { worker: true }));

test('webpack build: the same, plus a Web Worker', () => checkPage('/webpack/index.html', { worker: true }));
