// The web chat in a real browser against a real server, as a person would use it:
// Debian's headless Chromium (playwright-core), one persistent profile per person, and
// `tessera-server serve --demo` on a loopback port with a fresh SQLite data directory.
// Screenshots of every step go to TESSERA_WEB_CHAT_ARTIFACTS. At the end the server is
// stopped and its data directory is scanned: no plaintext may appear in it.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const serverBin = process.env.TESSERA_SERVER_BIN;
const chromiumPath = process.env.TESSERA_CHROMIUM;
const dist = process.env.TESSERA_WEB_CHAT_DIST;
const artifacts = process.env.TESSERA_WEB_CHAT_ARTIFACTS ?? mkdtempSync(join(tmpdir(), 'tessera-web-chat-'));
const work = mkdtempSync(join(tmpdir(), 'tessera-web-chat-run-'));
const dataDir = join(work, 'server-data');
const tag = randomBytes(4).toString('hex');
const WAIT = { timeout: 30_000 };

let server;
let url;
const contexts = [];
let step = 0;

before(async () => {
  for (const [name, value] of Object.entries({ TESSERA_SERVER_BIN: serverBin, TESSERA_CHROMIUM: chromiumPath, TESSERA_WEB_CHAT_DIST: dist })) {
    assert.ok(value, `${name} must be set (scripts/test-web-chat sets it)`);
  }
  mkdirSync(artifacts, { recursive: true });
  execFileSync(serverBin, ['init', '--data-dir', dataDir], { stdio: 'ignore' });
  url = await startServer('127.0.0.1:0');
});

/** `tessera-server serve --demo` with the web chat on `listen`; resolves to its URL. */
function startServer(listen) {
  server = spawn(serverBin, ['serve', '--demo', '--demo-web', dist, '--data-dir', dataDir, '--listen', listen], {
    env: { ...process.env, TESSERA_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  server.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    server.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1].replace(/\/$/, ''));
    });
    server.on('exit', (code) => reject(new Error(`tessera-server exited with ${code}: ${stderr}`)));
  });
}

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  if (server && server.exitCode === null) server.kill('SIGKILL');
});

/** A fresh browser profile (its own IndexedDB): one person on one device. */
async function openProfile(person) {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(work, `profile-${person}-`)), {
    executablePath: chromiumPath,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 760 },
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  contexts.push(context);
  const page = context.pages()[0] ?? (await context.newPage());
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error.message));
  await page.goto(url);
  return page;
}

async function screenshot(page, name) {
  step += 1;
  await page.screenshot({ path: join(artifacts, `${String(step).padStart(2, '0')}-${name}.png`) });
}

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

async function signIn(page, name, password) {
  await byTestId(page, 'name').fill(name);
  await byTestId(page, 'password').fill(password);
  await byTestId(page, 'sign-in').click();
}

async function signedIn(page, name, how) {
  await byTestId(page, 'whoami').filter({ hasText: `signed in as ${name} (${how}` }).waitFor(WAIT);
}

async function openConversation(page, title) {
  await byTestId(page, 'conversation').filter({ hasText: title }).first().click(WAIT);
  await byTestId(page, 'conversation-title').filter({ hasText: title }).waitFor(WAIT);
}

async function sendText(page, text) {
  await byTestId(page, 'message-input').fill(text);
  await byTestId(page, 'send').click();
}

async function seesText(page, text) {
  await byTestId(page, 'messages').locator('[data-testid="text"]').filter({ hasText: text }).waitFor(WAIT);
}

async function messageTexts(page) {
  return byTestId(page, 'messages').locator('[data-testid="text"]').allTextContents();
}

/** Every file under `dir` with its bytes (the database, its WAL, the config, …). */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ path, bytes: readFileSync(path) }));
}

test('two people chat, a group loses a member, a file goes across, a key is restored on a new profile, the chat outlives a server restart, and the server holds no plaintext', async () => {
  const passwords = { alice: `alice-pass-${tag}`, bob: `bob-pass-${tag}`, carol: `carol-pass-${tag}` };
  const plaintexts = {
    aliceToBob: `Hello Bob, the launch code is ${tag}-7731`,
    bobToAlice: `Hi Alice, got it (${tag}) — see you at noon`,
    groupFirst: `Group kickoff notes ${tag}: budget approved`,
    groupFromCarol: `Carol here ${tag}, thanks for adding me`,
    groupAfterRemoval: `After Carol left ${tag}: the new supplier is Lumen`,
    afterRestart: `Back again ${tag}: the server restarted`,
    groupName: `Project Falcon ${tag}`,
    fileName: `quarterly-report-${tag}.bin`,
  };
  const file = randomBytes(3 * 1024 * 1024 + 123);

  // 1. Alice and Bob sign in for the first time: keys made in the browser, backed up.
  const alice = await openProfile('alice');
  await screenshot(alice, 'sign-in-page');
  await signIn(alice, 'alice', passwords.alice);
  await signedIn(alice, 'alice', 'new keys');
  const bob = await openProfile('bob');
  await signIn(bob, 'bob', passwords.bob);
  await signedIn(bob, 'bob', 'new keys');
  await screenshot(alice, 'alice-signed-in');

  // 2. A conversation that does not exist: a clear message, not a stack trace.
  await byTestId(alice, 'new-chat-name').fill('nobody');
  await byTestId(alice, 'new-chat').click();
  await byTestId(alice, 'sidebar-error').filter({ hasText: 'Nobody called "nobody" has signed in yet.' }).waitFor(WAIT);
  await screenshot(alice, 'unknown-user');

  // 3. Messages both ways.
  await byTestId(alice, 'new-chat-name').fill('bob');
  await byTestId(alice, 'new-chat').click();
  await byTestId(alice, 'conversation-title').filter({ hasText: 'bob' }).waitFor(WAIT);
  await sendText(alice, plaintexts.aliceToBob);
  await seesText(alice, plaintexts.aliceToBob);
  await openConversation(bob, 'alice');
  await seesText(bob, plaintexts.aliceToBob);
  await sendText(bob, plaintexts.bobToAlice);
  await seesText(alice, plaintexts.bobToAlice);
  await screenshot(alice, 'alice-bob-conversation');

  // The panel shows what the server stores: ciphertext, never the text.
  const stored = await byTestId(alice, 'stored-ciphertext').allTextContents();
  assert.equal(stored.length, 2);
  for (const entry of stored) assert.ok(!entry.includes(tag), entry);

  // 4. The safety number is the same 60 digits on both screens.
  await byTestId(alice, 'verify').click();
  await byTestId(bob, 'verify').click();
  const aliceNumber = await byTestId(alice, 'safety-number').textContent();
  const bobNumber = await byTestId(bob, 'safety-number').textContent();
  assert.match(aliceNumber, /^(\d{5} ){11}\d{5}$/);
  assert.equal(aliceNumber, bobNumber);
  await screenshot(bob, 'bob-safety-number');

  // 5. A 3 MiB file with a progress bar, received intact.
  const filePath = join(work, plaintexts.fileName);
  writeFileSync(filePath, file);
  await byTestId(alice, 'file-input').setInputFiles(filePath);
  await alice.locator('[data-testid="file-progress-box"][data-state="done"]').waitFor(WAIT);
  assert.equal(await byTestId(alice, 'file-progress').evaluate((bar) => bar.value), 1);
  assert.match(await byTestId(alice, 'file-progress-label').textContent(), /^sent quarterly-report/);
  await screenshot(alice, 'file-sent');
  const link = byTestId(bob, 'file-link').filter({ hasText: plaintexts.fileName });
  await link.waitFor(WAIT);
  const [download] = await Promise.all([bob.waitForEvent('download', WAIT), link.click()]);
  assert.equal(download.suggestedFilename(), plaintexts.fileName);
  assert.ok(readFileSync(await download.path()).equals(file), 'the received file has the sent bytes');
  await screenshot(bob, 'file-received');

  // 6. A group of Alice and Bob; Alice adds Carol, who reads what is sent from then on.
  const carol = await openProfile('carol');
  await signIn(carol, 'carol', passwords.carol);
  await signedIn(carol, 'carol', 'new keys');
  await byTestId(alice, 'new-group-name').fill(plaintexts.groupName);
  await byTestId(alice, 'new-group-members').fill('bob');
  await byTestId(alice, 'new-group').click();
  await byTestId(alice, 'conversation-title').filter({ hasText: plaintexts.groupName }).waitFor(WAIT);
  await sendText(alice, plaintexts.groupFirst);
  await seesText(alice, plaintexts.groupFirst);
  await openConversation(bob, plaintexts.groupName);
  await seesText(bob, plaintexts.groupFirst);
  await byTestId(alice, 'add-member-name').fill('carol');
  await byTestId(alice, 'add-member').click();
  await byTestId(alice, 'messages').filter({ hasText: 'alice added carol' }).waitFor(WAIT);
  await byTestId(alice, 'member').filter({ hasText: 'carol' }).waitFor(WAIT);
  await openConversation(carol, plaintexts.groupName);
  await byTestId(carol, 'messages').filter({ hasText: 'alice added carol' }).waitFor(WAIT);
  await sendText(carol, plaintexts.groupFromCarol);
  await seesText(carol, plaintexts.groupFromCarol);
  await seesText(alice, plaintexts.groupFromCarol);
  await seesText(bob, plaintexts.groupFromCarol);
  await screenshot(carol, 'carol-in-group');

  // 7. Alice removes Carol; Carol gets the next message's ciphertext and cannot read it.
  await byTestId(alice, 'remove-carol').click();
  await byTestId(alice, 'messages').filter({ hasText: 'alice removed carol' }).waitFor(WAIT);
  await sendText(alice, plaintexts.groupAfterRemoval);
  await seesText(bob, plaintexts.groupAfterRemoval);
  await byTestId(carol, 'conversation-title').filter({ hasText: '(you were removed)' }).waitFor(WAIT);
  await byTestId(carol, 'unreadable').filter({ hasText: 'Sent after you were removed' }).waitFor(WAIT);
  assert.ok(!(await messageTexts(carol)).includes(plaintexts.groupAfterRemoval));
  assert.ok((await messageTexts(carol)).includes(plaintexts.groupFromCarol), 'what Carol could read stays readable');
  await screenshot(carol, 'carol-removed');
  await screenshot(bob, 'bob-group-after-removal');

  // 8. Bob on a fresh profile: a wrong password is refused clearly, the right one restores
  //    his key from the backup, and his history decrypts.
  const bobAgain = await openProfile('bob-second-device');
  await signIn(bobAgain, 'bob', 'not-bobs-password');
  await byTestId(bobAgain, 'sign-in-error').filter({ hasText: "Wrong password for bob's key backup" }).waitFor(WAIT);
  await screenshot(bobAgain, 'wrong-password');
  await signIn(bobAgain, 'bob', passwords.bob);
  await signedIn(bobAgain, 'bob', 'key restored');
  await openConversation(bobAgain, 'alice');
  await seesText(bobAgain, plaintexts.aliceToBob);
  await seesText(bobAgain, plaintexts.bobToAlice);
  await byTestId(bobAgain, 'file-link').filter({ hasText: plaintexts.fileName }).waitFor(WAIT);
  await openConversation(bobAgain, plaintexts.groupName);
  await seesText(bobAgain, plaintexts.groupAfterRemoval);
  await screenshot(bobAgain, 'bob-restored-on-new-profile');

  // 9. The server goes away: a plain-language banner, not a stack trace.
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await byTestId(alice, 'connection').filter({ hasText: 'Cannot reach the Tessera server' }).waitFor(WAIT);
  await screenshot(alice, 'server-down');

  // 10. The server comes back on the same address. A demo server signs its tokens with a
  //     key that lives only as long as its process, so it refuses the tokens the pages
  //     hold: the chat signs in again by itself, and messages flow.
  await startServer(new URL(url).host);
  for (const page of [alice, bob]) await byTestId(page, 'connection').waitFor({ state: 'hidden', ...WAIT });
  await openConversation(alice, 'bob');
  await sendText(alice, plaintexts.afterRestart);
  await openConversation(bob, 'alice');
  await seesText(bob, plaintexts.afterRestart);
  await screenshot(bob, 'after-server-restart');
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));

  for (const page of [alice, bob, carol, bobAgain]) assert.deepEqual(page.errors, [], 'no uncaught errors in the page');

  // 11. What the server kept: identities and ciphertext, no plaintext at all.
  const files = filesUnder(dataDir);
  const everything = Buffer.concat(files.map((entry) => entry.bytes));
  assert.ok(files.some((entry) => entry.path.endsWith('.db') || entry.path.endsWith('.sqlite')), files.map((f) => f.path).join(' '));
  // The scan looks at the right bytes: the identities are stored in clear.
  assert.ok(everything.includes(Buffer.from('carol')), 'identities are in the database files');
  for (const [what, text] of Object.entries(plaintexts)) {
    for (const encoding of ['utf8', 'utf16le']) {
      assert.ok(!everything.includes(Buffer.from(text, encoding)), `${what} (${encoding}) found in the server's files`);
    }
  }
  for (let offset = 0; offset + 32 <= file.length; offset += 256 * 1024) {
    assert.ok(!everything.includes(file.subarray(offset, offset + 32)), `file bytes at ${offset} found in the server's files`);
  }
});
