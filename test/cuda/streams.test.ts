// Several GPU streams: each lathe stream queues on its own CUDA stream, a node reading an
// array written on another stream waits for it (an event), freed blocks stay stream-ordered,
// mx.synchronize(stream) waits for one stream, memory stays flat, and compile() records
// graphs on the default stream only (refusing others with the reason).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, mx } from './util.js';
import { cudaBackend } from '../../src/backend/cuda/backend.js';
import { compileStats } from '../../src/core/transforms/compile.js';

/** Integer-valued floats (j % 1000): sums of integers stay exact in float32. */
function ints(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = j % 1000;
  return out;
}

describe('cuda: streams', { skip }, () => {
  test('work on two new streams gives the same values as on the default stream', () => {
    const a = mx.newStream(mx.gpu), b = mx.newStream(mx.gpu);
    const w = mx.reshape(mx.array(rand(256 * 256, 1, -0.1, 0.1), mx.float32, { stream: mx.gpu }), [256, 256]);
    const x = mx.reshape(mx.array(rand(64 * 256, 2), mx.float32, { stream: mx.gpu }), [64, 256]);
    const f = (s: mx.Stream) => {
      const h = mx.tanh(mx.matmul(x, w, { stream: s }), { stream: s });
      return mx.divide(h, mx.add(mx.sum(mx.square(h, { stream: s }), -1, true, { stream: s }), 1, { stream: s }), { stream: s });
    };
    const want = f(mx.defaultStream(mx.gpu)).dataSync();
    const ga = f(a), gb = f(b);
    mx.eval(ga, gb);
    for (const [name, got] of [['stream a', ga.dataSync()], ['stream b', gb.dataSync()]] as const)
      for (let i = 0; i < want.length; i++)
        assert.ok(Math.abs(Number(got[i]) - Number(want[i])) <= 1e-6, `${name}: element ${i}: ${got[i]} vs ${want[i]}`);
  });

  test('a producer on stream A and a consumer on stream B stay ordered (large arrays, no explicit sync)', () => {
    const A = mx.newStream(mx.gpu), B = mx.newStream(mx.gpu);
    const n = 1 << 24; // 64 MiB: each producer kernel takes tens of microseconds
    const x = mx.array(ints(n), mx.float32, { stream: mx.gpu });
    mx.eval(x);
    const errors: mx.Array[] = [];
    for (let i = 0; i < 20; i++) {
      errors.push(mx.tidy(() => {
        let y = mx.add(x, i, { stream: A });
        for (let k = 0; k < 10; k++) y = mx.add(y, 1, { stream: A }); // x + i + 10, queued on A
        const c = mx.multiply(y, 2, { stream: B }); // read on B: must wait for A
        const e = mx.multiply(mx.add(x, i + 10, { stream: B }), 2, { stream: B });
        const err = mx.max(mx.abs(mx.subtract(c, e, { stream: B }), { stream: B }), undefined, false, { stream: B });
        mx.eval(err);
        return err;
      }));
    }
    errors.forEach((e, i) => assert.equal(e.item(), 0, `iteration ${i}: the consumer on B read values A had not written yet`));
  });

  test('blocks freed on one stream and reused on another stay correct', () => {
    const A = mx.newStream(mx.gpu), B = mx.newStream(mx.gpu);
    // Two sizes, switched every two iterations, streams alternating: each iteration's first
    // block of its size was last freed by the other stream (which may still be using it).
    const sizes = [1 << 22, 3 << 21];
    const xs = sizes.map((n) => mx.array(ints(n), mx.float32, { stream: mx.gpu }));
    mx.eval(xs);
    const maxes: mx.Array[] = [], sums: mx.Array[] = [];
    for (let i = 0; i < 100; i++) {
      const s = i % 2 ? A : B, x = xs[(i >> 1) % 2];
      const [m, t] = mx.tidy(() => {
        let y = mx.add(x, i, { stream: s });
        for (let k = 0; k < 5; k++) y = mx.add(y, 1, { stream: s });
        const r = [mx.max(y, undefined, false, { stream: s }), mx.sum(mx.subtract(y, i + 5, { stream: s }), undefined, false, { stream: s })];
        mx.eval(r);
        return r; // y and its chain go back to the cache now, still in use on s
      });
      maxes.push(m); sums.push(t);
    }
    const want = sizes.map((n) => { let w = 0; for (let j = 0; j < n; j++) w += j % 1000; return w; });
    maxes.forEach((m, i) => assert.equal(m.item(), 999 + i + 5, `iteration ${i}: max`));
    sums.forEach((t, i) => {
      const w = want[(i >> 1) % 2];
      assert.ok(Math.abs((t.item() as number) - w) <= w * 1e-5, `iteration ${i}: sum ${t.item()} vs ${w}`);
    });
  });

  test('mx.synchronize(stream) waits for that stream; synchronizing an unused stream or the device is fine', () => {
    const A = mx.newStream(mx.gpu), unused = mx.newStream(mx.gpu);
    const x = mx.array(ints(1 << 20), mx.float32, { stream: mx.gpu });
    let y = x;
    for (let k = 0; k < 50; k++) y = mx.add(y, 1, { stream: A });
    mx.eval(y);
    mx.synchronize(A);
    mx.synchronize(unused);
    mx.synchronize(mx.gpu);
    mx.synchronize();
    const v = y.dataSync();
    assert.equal(v[0], 50);
    assert.equal(v[999], 999 + 50);
  });

  test('device memory stays flat over 2,000 iterations on two streams', () => {
    const A = mx.newStream(mx.gpu), B = mx.newStream(mx.gpu);
    const w = mx.reshape(mx.array(rand(128 * 128, 5, -0.05, 0.05), mx.float32, { stream: mx.gpu }), [128, 128]);
    let x = mx.reshape(mx.array(rand(32 * 128, 6), mx.float32, { stream: mx.gpu }), [32, 128]);
    mx.eval(w, x);
    let base = -1, reserved = -1;
    for (let i = 0; i < 2000; i++) {
      const next = mx.tidy(() => {
        const a = mx.tanh(mx.matmul(x, w, { stream: A }), { stream: A });
        const b = mx.sin(mx.matmul(x, w, { stream: B }), { stream: B });
        const r = mx.multiply(mx.add(a, b, { stream: i % 2 ? A : B }), 0.5, { stream: B });
        mx.eval(r);
        return r;
      });
      x.dispose();
      x = next;
      const m = cudaBackend.memory();
      if (i === 50) { base = m.active; reserved = m.active + m.cache; }
      else if (i > 50 && i % 100 === 0) {
        assert.equal(m.active, base, `step ${i}: active memory grew`);
        assert.ok(m.active + m.cache <= reserved, `step ${i}: reserved memory grew from ${reserved} to ${m.active + m.cache}`);
      }
    }
    assert.ok(Number.isFinite(mx.sum(x).item() as number));
    x.dispose(); w.dispose();
  });

  test('compile(): a function on another stream runs without a graph (with the reason); inputs from another stream feed a graph', () => {
    const A = mx.newStream(mx.gpu);
    const onA = (x: mx.Array) => [mx.add(mx.multiply(x, 2, { stream: A }), 1, { stream: A })];
    const cf = mx.compile(onA);
    for (let call = 0; call < 4; call++) {
      const x = mx.array(ints(1000), mx.float32, { stream: mx.gpu });
      const [y] = cf(x);
      assert.equal(y.dataSync()[7], 15, `call ${call}`);
    }
    const s = compileStats(cf)!;
    assert.equal(s.graphs, 0);
    assert.match(String(s.graphReason), /stream/);
    cf.dispose();

    // An op runs on its first array's stream unless told: name the default one.
    const g = mx.compile((x: mx.Array) => [mx.add(mx.multiply(x, 3, { stream: mx.gpu }), 1)]);
    const n = 1 << 16; // under compile's BIND_BYTES: copied into the graph's memory at each launch (a bound input would record again)
    for (let call = 0; call < 6; call++) {
      let x = mx.array(ints(n), mx.float32, { stream: mx.gpu });
      for (let k = 0; k < 10; k++) x = mx.add(x, 1, { stream: A }); // made on A, read by the graph on the default stream
      const [y] = g(x);
      const v = y.dataSync();
      assert.equal(v[7], 3 * (7 + 10) + 1, `graph call ${call}`);
      assert.equal(v[n - 1], 3 * ((n - 1) % 1000 + 10) + 1, `graph call ${call}, last element`);
    }
    assert.equal(compileStats(g)!.graphs, 1, `graphs (${compileStats(g)!.graphReason})`);
    assert.equal(compileStats(g)!.graphLaunches, 4);
    g.dispose();
  });

  test('informative: two independent matmul chains on two streams vs one', () => {
    const A = mx.newStream(mx.gpu), B = mx.newStream(mx.gpu), D = mx.defaultStream(mx.gpu);
    for (const [n, steps] of [[512, 200], [2048, 20]] as const) {
      const w = mx.reshape(mx.array(rand(n * n, 7, -1 / Math.sqrt(n), 1 / Math.sqrt(n)), mx.float32, { stream: mx.gpu }), [n, n]);
      const x0 = mx.reshape(mx.array(rand(n * n, 8), mx.float32, { stream: mx.gpu }), [n, n]);
      mx.eval(w, x0);
      const run = (s1: mx.Stream, s2: mx.Stream) => {
        mx.synchronize(mx.gpu);
        const t = performance.now();
        mx.tidy(() => {
          let p = x0, q = x0;
          for (let k = 0; k < steps; k++) {
            p = mx.matmul(p, w, { stream: s1 });
            q = mx.matmul(q, w, { stream: s2 });
            if (k % 10 === 9) mx.eval(p, q);
          }
          mx.eval(p, q);
        });
        mx.synchronize(mx.gpu);
        return performance.now() - t;
      };
      run(D, D); run(A, B); // warm up (cuBLAS handles, kernels)
      const one = Math.min(run(D, D), run(D, D)), two = Math.min(run(A, B), run(A, B));
      console.log(`# streams: ${steps} x2 matmuls ${n}x${n} float32: one stream ${one.toFixed(2)} ms, two streams ${two.toFixed(2)} ms (${(one / two).toFixed(2)}x)`);
    }
  });
});
