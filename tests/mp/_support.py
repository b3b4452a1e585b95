# Helpers shared by the dual-interpreter tests (MicroPython-compatible).
import binascii
import json


def h(s):
    """bytes from a hex string (bytes.fromhex is not on MicroPython)."""
    return binascii.unhexlify(s.replace(" ", ""))


def hx(b):
    return binascii.hexlify(bytes(b)).decode()


def _root():
    f = __file__
    # .../tests/mp/_support.py -> repo root
    for _ in range(3):
        f = f[: f.rfind("/")] if "/" in f else "."
    return f or "."


def golden():
    with open(_root() + "/protocol/vectors/golden.json") as fh:
        return json.load(fh)


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return True
    return False
