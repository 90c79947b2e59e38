#!/usr/bin/env bash
# The row-wise fast ops beside PyTorch on one GPU: the workloads from fast-rows.ts, PyTorch's
# side (fast_rows.py: eager and torch.compile), then lathe's, printed as one markdown table.
# On the GPU machine: bash .gpu/enter.sh bash bench/gpu/fast-rows.sh  (progress on stderr)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node --import tsx "$here/fast-rows.ts" --workloads "$@" > "$tmp/workloads.json"
# torch first, in its own process: its memory is back before lathe runs.
python3 "$here/fast_rows.py" < "$tmp/workloads.json" > "$tmp/torch.json" || echo '{"error": "fast_rows.py failed"}' > "$tmp/torch.json"
node --import tsx "$here/fast-rows.ts" --torch "$tmp/torch.json" "$@"
