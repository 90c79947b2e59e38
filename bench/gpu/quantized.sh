#!/usr/bin/env bash
# Quantized matmul vs bf16 (lathe's cuBLAS and PyTorch) in one run on the GPU machine:
#   bash .gpu/enter.sh bash bench/gpu/quantized.sh
# quantized.ts times lathe and runs matmul_torch.py for PyTorch's side; one markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --import tsx bench/gpu/quantized.ts "$@"
