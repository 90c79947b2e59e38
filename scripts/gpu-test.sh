#!/usr/bin/env bash
# The GPU test run (npm run test:gpu): the CUDA tests, then with the GPU as the default
# device the golden suite, the live differential test and the transform tests (rule table,
# grad/vjp/jvp, vmap, customFunction/checkpoint, compile; in float32, tolerances in
# src/backend/cuda/README.md). Without a usable GPU the CUDA tests
# skip and this says why.
set -uo pipefail
cd "$(dirname "$0")/.."

why=$(node --import tsx -e "
import('./src/backend/cuda/runtime.ts').then(({ probe }) => {
  const p = probe();
  if (!p.ok) { console.log(p.reason); return; }
  const i = p.info;
  console.error('# GPU: ' + i.name + ', ' + i.arch + ', ' + i.sms + ' SMs, driver for CUDA ' + i.driverVersion + ', NVRTC ' + i.nvrtcVersion);
});")

status=0
node scripts/run-tests.mjs test/cuda test/fast/gpu.test.ts test/lm/models-bf16.test.ts || status=1
if [ -n "$why" ]; then
  echo "# skipped: the golden suite on the GPU (no usable GPU: $why)"
else
  LATHE_DEFAULT_DEVICE=gpu node scripts/run-tests.mjs test/goldens.test.ts test/differential.test.ts \
    test/transforms/rules.test.ts test/transforms/compile.test.ts \
    test/transforms/grad.test.ts test/transforms/vmap.test.ts test/transforms/custom.test.ts || status=1
fi
exit $status
