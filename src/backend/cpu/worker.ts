// A worker thread of the CPU pool (pool.ts): compiles each kernel's source once, then runs
// the chunks it claims of every job it is sent.
import { parentPort } from 'node:worker_threads';
import { compileBody } from './codegen.js';
import { JobMessage, entryOf, markFailed, runChunks } from './pool.js';

const kernels = new Map<string, unknown>();

parentPort!.on('message', (job: JobMessage) => {
  try {
    let fn = kernels.get(job.key);
    if (fn === undefined) {
      if (job.body === undefined) throw new Error(`no source for kernel ${job.key}`);
      fn = compileBody(job.body);
      kernels.set(job.key, fn);
    }
    runChunks(job.ctl, entryOf(fn, job.entry), job.args, job.total, job.grain);
  } catch {
    markFailed(job.ctl); // the main thread redoes the job and reports the error itself
  }
});
