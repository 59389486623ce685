// The package as published: entry points, declarations, size, errors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import * as esm from 'tessera-e2ee';

import { required } from './helpers.mjs';

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('tessera-e2ee/package.json'));
const declarations = readFileSync(join(packageDir, 'dist/index.d.ts'), 'utf8');
const declaredNames = [
  ...declarations.matchAll(/^export (?:declare )?(?:class|function|const) ([A-Za-z]+)/gm),
].map((m) => m[1]);

test('ESM and CommonJS entry points export the same names, all declared', async () => {
  const cjs = require('tessera-e2ee');
  const esmNames = Object.keys(esm).sort();
  assert.deepEqual(Object.keys(cjs).sort(), esmNames);
  assert.deepEqual([...new Set(declaredNames)].sort(), esmNames);
  // One wasm instance behind both: a card made through one verifies through the other.
  await esm.init();
  const card = esm.Card.create(esm.KeyPair.generate(), 'shared');
  assert.equal(cjs.Card.fromText(card.toText()).id, card.id);
});

test('package.json exports map node/browser/default with types', () => {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const root = pkg.exports['.'];
  assert.equal(root.node.import.types, './dist/index.d.ts');
  assert.equal(root.node.require.types, './dist/index.d.cts');
  assert.equal(root.browser.default, './dist/web/index.js');
  assert.equal(root.default.types, './dist/index.d.ts');
  assert.equal(pkg.name, 'tessera-e2ee');
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
});

test('declarations have no `any` and type-check a strict consumer', () => {
  const code = declarations.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  assert.doesNotMatch(code, /\bany\b/);
  const project = required('TESSERA_TEST_PROJECT');
  writeFileSync(join(project, 'consumer.ts'), readFileSync(new URL('./consumer.ts', import.meta.url), 'utf8'));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], skipLibCheck: false, types: [] },
      files: ['consumer.ts'],
    }),
  );
  execFileSync(required('TESSERA_TSC'), ['-p', project], { stdio: 'pipe' });
});

test('the package carries its README and license texts', () => {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  assert.match(pkg.license, /Apache-2\.0/);
  assert.match(readFileSync(join(packageDir, 'LICENSE-APACHE'), 'utf8'), /Apache License\s+Version 2\.0/);
  assert.match(readFileSync(join(packageDir, 'LICENSE-MIT'), 'utf8'), /Permission is hereby granted/);
  assert.match(readFileSync(join(packageDir, 'README.md'), 'utf8'), /^# tessera-e2ee/);
});

test("the README's example without a server runs as written", () => {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const section = readme.split('## Without a server')[1] ?? '';
  const example = section.match(/```js\n([\s\S]*?)```/)?.[1];
  assert.ok(example, 'README.md has a js example under "Without a server"');
  // Run inside the test project, where `tessera-e2ee` resolves to the installed tarball.
  const file = join(required('TESSERA_TEST_PROJECT'), 'readme-example.mjs');
  const check = "\nif (new TextDecoder().decode(plaintext) !== 'hi') throw new Error('wrong plaintext');\n";
  writeFileSync(file, example + check);
  execFileSync(process.execPath, [file], { stdio: 'pipe' });
});

// The size budget. The project's target was 200 KiB, met by the cryptography alone (182.5
// KiB); the device client (HTTP API, JSON, card cache, groups, Promise glue) adds ~143 KiB,
// measured in docs/BENCHMARKS.md. This guard keeps it from growing unnoticed.
const WASM_BUDGET_GZIPPED = 335 * 1024;

test(`the shipped .wasm stays within its size budget (${WASM_BUDGET_GZIPPED / 1024} KiB gzipped)`, () => {
  for (const dir of ['dist/web/wasm', 'dist/node/wasm']) {
    const wasm = readFileSync(join(packageDir, dir, 'tessera_wasm_bg.wasm'));
    const gzipped = gzipSync(wasm, { level: 9 }).length;
    assert.ok(gzipped <= WASM_BUDGET_GZIPPED, `${dir}: ${gzipped} bytes gzipped`);
  }
});

test('errors are TesseraError subclasses with stable codes', async () => {
  await esm.init();
  const a = esm.KeyPair.generate();
  const b = esm.KeyPair.generate();
  const cardA = esm.Card.create(a, 'alice');
  const cardB = esm.Card.create(b, 'bob');
  const envelope = esm.encrypt(a, cardB, new Uint8Array([1, 2, 3]));
  const cases = [
    [() => esm.decrypt(a, envelope, cardA), esm.IntegrityCheckFailedError, 'not_a_recipient'],
    [() => esm.decrypt(b, envelope, cardB), esm.IntegrityCheckFailedError, 'wrong_sender'],
    [() => esm.decrypt(b, envelope.subarray(0, envelope.length - 1), cardA), esm.IntegrityCheckFailedError, 'decryption_failed'],
    [() => esm.Card.create(a, 'has space'), esm.InvalidInputError, 'invalid_identity'],
    [() => esm.openBackup(esm.sealBackup(a, 'right'), 'wrong'), esm.WrongKeyknoxPasswordError, 'wrong_password'],
    [() => esm.KeyPair.fromRootSecret(new Uint8Array(31)), esm.TesseraError, 'invalid_key'],
    [() => esm.encrypt(a, [], new Uint8Array(1)), esm.InvalidInputError, 'invalid_input'],
    [() => esm.encrypt(a, ['not a card'], new Uint8Array(1)), esm.InvalidInputError, 'invalid_input'],
  ];
  for (const [run, Class, code] of cases) {
    assert.throws(
      run,
      (error) => error instanceof Class && error instanceof Error && error.code === code && error.name === Class.name,
      code,
    );
  }
  const stream = new esm.EncryptStream(a, cardB);
  stream.finish();
  assert.throws(() => stream.update(new Uint8Array(1)), (error) => error instanceof esm.TesseraError && error.code === 'invalid_state');
});

test('error classes and declarations follow the Rust code table and kinds', async () => {
  // The wasm adapter lists the client's codes (its one table) and the format's kinds.
  const wasm = require(join(packageDir, 'dist/node/wasm/tessera_wasm.js'));
  const codes = wasm.errorCodes();
  const kinds = wasm.errorKinds();
  assert.ok(codes.includes('wrong_password') && kinds.includes('malformed'));
  const { CLASS_OF_CODE, errorFromCode } = await import(pathToFileURL(join(packageDir, 'dist/web/errors.js')));
  for (const code of codes) {
    assert.ok(Object.hasOwn(CLASS_OF_CODE, code), `errors.js has no class for client code ${code}`);
  }
  for (const code of Object.keys(CLASS_OF_CODE)) {
    assert.ok(codes.includes(code) || kinds.includes(code), `errors.js maps unknown code ${code}`);
  }
  const classOf = (code) => errorFromCode(code, 'message').name;
  for (const code of [...codes, ...kinds]) {
    const error = errorFromCode(code, 'message');
    assert.equal(error.code, code);
    assert.ok(error instanceof Error && typeof esm[error.name] === 'function', code);
  }
  // Each error class's doc comment in index.d.ts names exactly the codes thrown as it.
  const documented = new Map();
  const errorClass = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export class (\w+) extends (?:TesseraError|Error)\b/g;
  // Backticked names that are codes: known ones, and any snake_case name (a stale code).
  const isCodeLike = (name) => name.includes('_') || codes.includes(name) || kinds.includes(name);
  for (const [, comment, name] of declarations.matchAll(errorClass)) {
    const named = [...comment.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).filter(isCodeLike);
    documented.set(name, new Set(named));
  }
  assert.ok(documented.size >= 10, 'error classes not found in index.d.ts');
  for (const code of [...codes, ...kinds]) {
    const name = classOf(code);
    if (name === 'TesseraError' && !codes.includes(code)) continue; // plain low-level kinds
    assert.ok(documented.get(name)?.has(code), `index.d.ts does not name ${code} on ${name}`);
  }
  for (const [name, named] of documented) {
    for (const code of named) {
      if (!codes.includes(code) && !kinds.includes(code)) assert.fail(`index.d.ts names unknown code ${code}`);
      if (name !== 'TesseraError' || codes.includes(code)) assert.equal(classOf(code), name, code);
    }
  }
});
