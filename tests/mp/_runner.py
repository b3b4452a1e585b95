# Runs one test function of a dual-interpreter test module under MicroPython:
#   micropython _runner.py MODULE FUNCTION
# Prints PASS on success; any exception propagates (exit status 1) with its
# traceback on stderr, which the pytest item shows.
import sys

mod = __import__(sys.argv[1])
getattr(mod, sys.argv[2])()
print("PASS")
