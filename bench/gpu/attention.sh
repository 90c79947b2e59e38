#!/usr/bin/env bash
# Attention benchmark, lathe and torch on the same card, one markdown table on stdout
# (progress on stderr). On the GPU machine: bash .gpu/enter.sh bash bench/gpu/attention.sh
# ATTN_VARIANTS=1 adds rows for other tile shapes; BENCH_REPS sets the runs (default 15).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --import tsx bench/gpu/attention.ts "$@"
