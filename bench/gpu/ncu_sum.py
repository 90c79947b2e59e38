# Sums ncu's per-kernel gpu__time_duration.sum (a --csv log) into a total and the largest kernels.
# Usage: python3 bench/gpu/ncu_sum.py ncu.csv
import csv
import sys
from collections import defaultdict

scale = {'nsecond': 1e-6, 'usecond': 1e-3, 'msecond': 1.0, 'second': 1e3}
total, count, per = 0.0, 0, defaultdict(lambda: [0.0, 0])
with open(sys.argv[1]) as f:
    lines = [l for l in f if l.startswith('"')]
for row in csv.DictReader(lines):
    if row.get('Metric Name') != 'gpu__time_duration.sum':
        continue
    ms = float(row['Metric Value'].replace(',', '')) * scale.get(row['Metric Unit'], 1e-6)
    name = row['Kernel Name'].split('(')[0][:40]
    total += ms
    count += 1
    per[name][0] += ms
    per[name][1] += 1
print(f'ncu: {count} kernels, sum of durations {total:.3f} ms')
for name, (ms, n) in sorted(per.items(), key=lambda kv: -kv[1][0])[:10]:
    print(f'  {name:40s} {ms:8.3f} ms  ({n})')
