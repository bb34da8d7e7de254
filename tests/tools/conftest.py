"""The tools_ tier imports redis-tests/compat.py (servers, clusters) and
tests/pylib."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "redis-tests"))
