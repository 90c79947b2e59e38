#!/usr/bin/env bash
# bench/gpu/lm.sh [--tokens N]: lathe/lm (lm.ts) then HF transformers (lm_hf.py) on the same
# card in one call; prints one markdown table (lm_report.ts). On the GPU machine:
#   bash .gpu/enter.sh bash bench/gpu/lm.sh > $OUT/lm.md
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
node --import tsx bench/gpu/lm.ts "$@" > "$tmp/lathe.json"
python3 bench/gpu/lm_hf.py "$@" > "$tmp/hf.json" || echo '{"error":"lm_hf.py failed"}' > "$tmp/hf.json"
node --import tsx bench/gpu/lm_report.ts "$tmp/lathe.json" "$tmp/hf.json"
