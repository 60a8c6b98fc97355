/* The app and the tests type-check (tsx only strips types, so this is where type errors surface). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers';

test('tsc --noEmit passes on bin/, lib/ and test/', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', ROOT], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});
