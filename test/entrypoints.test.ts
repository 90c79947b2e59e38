// Each package entry point works on its own: importing lathe/nn first must still evaluate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

for (const entry of ['nn', 'optimizers', 'io', 'utils', 'lm']) {
  test(`lathe/${entry} can evaluate arrays when imported first`, () => {
    const code = `const m = await import('./src/${entry}/index.ts'); const mx = await import('./src/core/index.ts');` +
      `console.log(Object.keys(m).length > 0, mx.sum(mx.array([1, 2, 3])).item());`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true 6');
  });
}
