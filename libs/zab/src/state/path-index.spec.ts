/**
 * Goal: the open-addressing path index behaves like a Map<string, id> through any sequence of
 * inserts and deletes (backward-shift deletion never strands an entry), across resizes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PathIndex } from './path-index.js';

describe('PathIndex', () => {
  test('agrees with a Map under random inserts and deletes (property)', () => {
    const step = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 60 }));
    const histories = fc.array(step, { maxLength: 400, size: 'max' });
    fc.assert(
      fc.property(histories, fc.integer({ min: 1, max: 64 }), (steps, slots) => {
        const paths: Array<string | undefined> = [];
        const index = new PathIndex(paths, slots);
        const model = new Map<string, number>();
        let nextId = 0;
        for (const [insert, key] of steps) {
          const path = `/k/${key}`;
          if (insert) {
            const id = nextId++;
            paths[id] = path;
            assert.equal(index.set(path, id), !model.has(path));
            if (!model.has(path)) model.set(path, id);
          } else {
            assert.equal(index.delete(path), model.delete(path));
          }
          assert.equal(index.size, model.size);
          for (let probe = 0; probe <= 60; probe++) {
            assert.equal(index.get(`/k/${probe}`), model.get(`/k/${probe}`));
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
