/**
 * Goal: the root package is the library. After `npm run build`, code in the repository can
 * `import { ZabModule, CoordinationService } from 'nestjs-zab'` (package self-reference), and
 * `npm pack` produces a tarball that installs and works as a dependency.
 * Method: run `npm pack` (its prepack builds), unpack the tarball into a scratch project's
 * node_modules below build/ (peer dependencies resolve from the repository's node_modules, no
 * network), and run a script there that starts a Nest application context with the module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve('.');
const scratch = join(root, 'build', 'pack-test');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';


test('npm pack gives an installable package whose module works', { timeout: 300_000 }, () => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(join(scratch, 'node_modules', 'nestjs-zab'), { recursive: true });
  const output = execFileSync(npm, ['pack', '--json', '--pack-destination', scratch], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [packed] = JSON.parse(output.slice(output.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed!.files.map((f) => f.path);
  assert.ok(files.includes('dist/zab/index.js'));
  assert.ok(files.includes('dist/zab/index.d.ts'));
  assert.ok(!files.some((f) => f.includes('.spec.')), 'no test files in the package');
  execFileSync('tar', ['-xzf', join(scratch, packed!.filename), '-C', join(scratch, 'node_modules', 'nestjs-zab'), '--strip-components=1']);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(
    join(scratch, 'check.mjs'),
    `import { ZabModule, CoordinationService, NodeExistsError } from 'nestjs-zab';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
class AppModule {}
Module({ imports: [ZabModule.forRoot({ dataDir: ':memory:' })] })(AppModule);
const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
const zk = app.get(CoordinationService);
await zk.create('/installed', 'yes');
let typed = false;
try { await zk.create('/installed'); } catch (e) { typed = e instanceof NodeExistsError; }
console.log(JSON.stringify({ data: (await zk.get('/installed')).data.toString(), typed }));
await app.close();
`,
  );
  const result = execFileSync(process.execPath, ['check.mjs'], { cwd: scratch, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(result.trim().split('\n').pop()!), { data: 'yes', typed: true });

  const selfReference = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "const m = await import('nestjs-zab'); console.log(typeof m.ZabModule, typeof m.CoordinationService)"],
    { cwd: join(root, 'apps'), encoding: 'utf8' },
  );
  assert.equal(selfReference.trim(), 'function function');
  assert.ok(readdirSync(join(root, 'dist', 'apps')).includes('demo'));
  rmSync(scratch, { recursive: true, force: true });
});

