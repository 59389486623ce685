// Browser tests: Debian's Chromium, headless, driven by playwright-core, against pages
// served from 127.0.0.1: plain ES modules (import map), a Vite build and a webpack build,
// each with a fresh persistent profile; Web Workers in the bundled builds.
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import { build as viteBuild } from 'vite';
import webpack from 'webpack';

const here = fileURLToPath(new URL('.', import.meta.url));
const work = process.env.TESSERA_BROWSER_WORK ?? mkdtempSync(join(tmpdir(), 'tessera-browser-'));
const viteOut = join(work, 'vite-dist');
const webpackOut = join(work, 'webpack-dist');
const chromiumPath = process.env.TESSERA_CHROMIUM;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

let server;
let origin;

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
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
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
  await withBrowser(async (page) => {
    await page.goto(`${origin}${path}`);
    await ready(page);
    const db = 'tessera-test';
    const first = await page.evaluate((name) => window.tesseraTest.register(name), db);
    assert.equal(first.message, 'hello from the browser');
    assert.equal(first.fileRoundTrip, true);
    assert.equal(first.tampered, 'IntegrityCheckFailedError:decryption_failed');

    await page.reload();
    await ready(page);
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
      const result = await page.evaluate(() => window.tesseraTest.inWorker('tessera-worker'));
      assert.equal(result.first.message, 'hello from the browser');
      assert.equal(result.first.fileRoundTrip, true);
      assert.equal(result.again.rootSecret, result.first.rootSecret);
    }
  });
}

test('plain ES modules (import map): register, encrypt, reload, key still usable, not raw in IndexedDB', () =>
  checkPage('/plain/index.html', { worker: false }));

test('Vite build: the same, plus a module Web Worker', () => checkPage('/vite/index.html', { worker: true }));

test('webpack build: the same, plus a Web Worker', () => checkPage('/webpack/index.html', { worker: true }));
