// The README's ten-line example runs as written and finds the weights it should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

test('README example runs and recovers w = [1, -2, 3]', () => {
  const readme = readFileSync('README.md', 'utf8');
  const code = /## Ten lines\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(code, 'README has a ts block under "## Ten lines"');
  const file = join('test', `.readme-example-${process.pid}.ts`);
  writeFileSync(file, code.replace("from 'lathe'", "from '../src/index.js'").replace('console.log(w.toString())', 'console.log(JSON.stringify(w.tolist()))'));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const w = JSON.parse(r.stdout.trim()) as number[];
    [1, -2, 3].forEach((v, i) => assert.ok(Math.abs(w[i] - v) < 1e-3, `w[${i}] = ${w[i]}`));
  } finally {
    rmSync(file, { force: true });
  }
});
