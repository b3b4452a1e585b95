"""The fuzzer of tests/fuzz.py on CPython (issue 15): 10^5 cases a run of
`make test`, none failing; and the fuzzer itself: it finds each of the
faults it was made for when one is put back (issue 15's F5, F8, F9), a
failure names a seed and case, and that case replays alone.

PODCTL_FUZZ_CASES and PODCTL_FUZZ_SEED play more, or others (a soak)."""

from __future__ import annotations

import os

from firmware import commands, guard
from protocol import catalogue as c
from protocol import message
from tests import fuzz

CASES = int(os.environ.get("PODCTL_FUZZ_CASES", 100_000))
SEED = int(os.environ.get("PODCTL_FUZZ_SEED", 2))


def test_a_hundred_thousand_fuzzed_requests_and_none_fails():
    got = fuzz.run(SEED, CASES)
    assert got["crashes"] == 0, "\n".join(got["failures"])
    assert got["cases"] == CASES
    assert all(got["ok"].get(t) for t in fuzz.COMMANDS + fuzz.OPEN), got["ok"]
    # every handler reached, and each command taken many times over
    assert min(got["ok"][t] for t in fuzz.COMMANDS if t != c.MSG_MAINTENANCE) > 100, got["ok"]
    # and refused every way the link refuses
    for code in (c.ERR_UNKNOWN_TYPE, c.ERR_BAD_LENGTH, c.ERR_BAD_PAYLOAD, c.ERR_AUTH_REQUIRED,
                 c.ERR_BAD_TAG, c.ERR_REPLAYED, c.ERR_BAD_STATE, c.ERR_OUT_OF_RANGE,
                 c.ERR_BAD_PROFILE, c.ERR_STALE, c.ERR_COUNTER_END, c.ERR_BAD_VERSION,
                 c.ERR_OVERSIZE):
        assert got["errors"].get(code), (code, got["errors"])
    assert got["max_feed_ms"] < 1000 and got["boots"] > 1


def _old_time_set(self, values, buf, at):
    """TIME_SET before issue 15 (F5): no range check."""
    pod = self.pod
    before = pod.set_time(values[0])
    return message.pack_into(buf, at, c.MSG_TIME_SET, True, pod.uptime, before)


def _old_check(self, f):
    """The guard before issue 15 (F9): at the counter's end every command,
    KEY_ROTATE too, is REPLAYED, for ever."""
    code = _check(self, f)
    if self.counter == 0xFFFFFFFF and code in (0, c.ERR_COUNTER_END):
        return c.ERR_REPLAYED
    return code


_check = guard.Guard.check


def test_a_failure_names_its_seed_and_case_and_that_case_replays(monkeypatch):
    monkeypatch.setattr(commands.Commands, "time_set", _old_time_set)
    got = fuzz.run(3, 3000)
    assert got["crashes"] > 0
    first = got["failures"][0]
    assert "struct.error" in first and "time_set" in first, first
    case = int(first.split(" case ")[1].split(":")[0])
    assert f"replay: python -m tests.fuzz 3 {case}" in first
    shown: list[str] = []
    again = fuzz.run(3, case + 1, show=case, out=shown.append)
    assert again["cases"] == case + 1 and again["failures"][0] == first
    text = "\n".join(shown)
    assert f"case {case}: type 0x10" in text and "CRASH" in text and "struct.error" in text


def test_the_fuzzer_finds_a_counter_stuck_at_its_end(monkeypatch):
    monkeypatch.setattr(guard.Guard, "check", _old_check)
    got = fuzz.run(4, 5000)
    assert any("the guard answered 11" in f and "0 wanted" in f for f in got["failures"]), \
        got["failures"][:3]


def test_the_fuzzer_counts_a_handler_that_raises_though_the_link_answers_it(monkeypatch):
    def broken(self, values, buf, at):
        raise ValueError("a bug")

    monkeypatch.setattr(commands.Commands, "phase_set", broken)
    got = fuzz.run(5, 2000)
    assert any("the handler of 0x41 raised" in f and "a bug" in f for f in got["failures"])
    assert got["errors"].get(c.ERR_BUSY)  # and the device answered it BUSY


def test_a_seed_plays_the_same_cases_each_time():
    a = fuzz.run(6, 1500)
    b = fuzz.run(6, 1500)
    for k in ("frames", "ok", "errors", "ticks", "boots", "handler_calls"):
        assert a[k] == b[k], k


def test_a_seed_draws_the_same_numbers_on_micropython():
    # the fuzzer's own xorshift32: a seed plays the same cases on both
    # interpreters (tests/mp/test_fuzz.py runs on each)
    from sim import upy

    code = "from tests import fuzz\nr = fuzz.Rand(1)\nprint([r.u32() for _ in range(5)])\n"
    p = upy.run(code, extra_path=(upy.ROOT / "tests" / "mp",))
    assert p.returncode == 0, p.stderr
    r = fuzz.Rand(1)
    assert p.stdout.strip() == str([r.u32() for _ in range(5)])
    assert fuzz.profile_bytes(fuzz.Rand(9)) == _mp_profile(upy)


def _mp_profile(upy) -> bytes:
    code = ("from tests import fuzz\nimport binascii\n"
            "print(binascii.hexlify(fuzz.profile_bytes(fuzz.Rand(9))).decode())\n")
    p = upy.run(code, extra_path=(upy.ROOT / "tests" / "mp",))
    assert p.returncode == 0, p.stderr
    return bytes.fromhex(p.stdout.strip())
