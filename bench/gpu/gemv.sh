#!/usr/bin/env bash
# The float GEMV vs lathe's cuBLAS path and PyTorch in one run on the GPU machine:
#   bash .gpu/enter.sh bash bench/gpu/gemv.sh
# gemv.ts times lathe and runs matmul_torch.py for PyTorch's side; markdown tables on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --import tsx bench/gpu/gemv.ts "$@"
