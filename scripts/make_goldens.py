"""Regenerates every golden file under test/goldens from NumPy: python3 scripts/make_goldens.py"""
import glob
import os
import runpy
import sys

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens")
sys.path.insert(0, here)
for script in sorted(glob.glob(os.path.join(here, "*.py"))):
    if os.path.basename(script) != "common.py":
        runpy.run_path(script, run_name="__main__")
