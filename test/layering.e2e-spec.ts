/**
 * Goal: keep the architecture's one-way layering true as the code grows (TigerBeetle's
 * tidy.zig idea: rules enforced by a test, not only by review).
 * Method: read every source file of libs/zab/src, parse its import specifiers, and check
 * (1) a layer imports only itself and the layers below it, (2) only nest/ imports @nestjs/*
 * and rxjs, (3) core/ and state/ use no I/O, clock or randomness.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';

const SRC = resolve('libs/zab/src');

/** Which top-level folders each layer may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  util: [],
  jute: ['util'],
  core: ['util', 'jute'],
  state: ['util', 'jute', 'core'],
  storage: ['util', 'jute', 'core'],
  transport: ['util', 'jute', 'core'],
  wire: ['util', 'jute', 'core', 'state'],
  node: ['util', 'jute', 'core', 'state', 'storage', 'transport', 'wire'],
  recipes: ['util', 'core', 'state', 'node'],
  testing: ['util', 'jute', 'core', 'state', 'storage', 'transport', 'wire', 'node', 'recipes'],
  nest: ['util', 'jute', 'core', 'state', 'storage', 'transport', 'wire', 'node', 'recipes'],
};
const PURE = new Set(['core', 'state']);

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) out.push(path);
  }
  return out;
}

function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const match of text.matchAll(pattern)) found.push(match[1] ?? match[2] ?? '');
  return found;
}

test('every layer imports only the layers below it', () => {
  const problems: string[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file);
    const layer = rel.includes(sep) ? rel.split(sep)[0]! : '(root)';
    if (layer === '(root)') continue;
    const text = readFileSync(file, 'utf8');
    for (const spec of importsOf(text)) {
      if (spec.startsWith('.')) {
        const target = relative(SRC, resolve(dirname(file), spec));
        const targetLayer = target.split(sep)[0]!;
        if (targetLayer !== layer && !(ALLOWED[layer] ?? []).includes(targetLayer)) {
          problems.push(`${rel} imports ${spec} (layer ${targetLayer})`);
        }
      } else if ((spec.startsWith('@nestjs/') || spec === 'rxjs' || spec.startsWith('rxjs/')) &&
        layer !== 'nest') {
        problems.push(`${rel} imports ${spec}: only nest/ may`);
      } else if (PURE.has(layer) && spec.startsWith('node:') && spec !== 'node:buffer') {
        problems.push(`${rel} imports ${spec}: ${layer}/ does no I/O`);
      }
    }
    if (PURE.has(layer)) {
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      for (const banned of ['Date.now', 'new Date', 'setTimeout', 'setInterval', 'setImmediate',
        'Math.random', 'process.', 'performance.now']) {
        if (code.includes(banned)) problems.push(`${rel} uses ${banned}: ${layer}/ is pure`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
