#!/usr/bin/env bash
# The decode-step bench on the GPU machine: lathe (bench/gpu/graph.ts), PyTorch
# (graph_torch.py) and, where ncu is installed, the exact sum of the graph's kernel durations.
# Usage (on the GPU machine): bash .gpu/enter.sh bash bench/gpu/graph.sh OUT_DIR
set -uo pipefail
out=${1:-/tmp/graph-bench}
mkdir -p "$out"
cd "$(dirname "$0")/../.."
timeout 35 npx tsx bench/gpu/graph.ts --steps 100 --json "$out/lathe.json" 2>&1 | tee "$out/lathe.txt"
timeout 45 python3 bench/gpu/graph_torch.py --json "$out/torch.json" 2>&1 | tee "$out/torch.txt"
if command -v ncu >/dev/null; then
  timeout 60 ncu --clock-control none --cache-control none --profile-from-start off --graph-profiling node --metrics gpu__time_duration.sum --csv \
    --log-file "$out/ncu.csv" npx tsx bench/gpu/graph.ts --profile-one > "$out/ncu.txt" 2>&1
  python3 bench/gpu/ncu_sum.py "$out/ncu.csv" 2>&1 | tee -a "$out/ncu.txt"
fi
