"""The decisions protocol/SPEC.md states and podctl must agree with
(issue 13, "The SPEC says it all"): each test fails if the code goes
back on the decision."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from podctl import events as pe
from podctl import logdata
from protocol import log
from tests.test_decode import seal_log

SPEC = (Path(__file__).resolve().parents[1] / "protocol" / "SPEC.md").read_text()
V = 1_800_000_000


def _section(title: str) -> str:
    """The text of one SPEC section, from its heading to the next heading."""
    at = SPEC.index(title)
    nxt = re.search(r"^#{2,3} ", SPEC[at + len(title):], re.M)
    return SPEC[at: at + len(title) + (nxt.start() if nxt else len(SPEC))]


# -- 7.8: the latest TIME_SET at or before a record applies ------------------


def _corrected_log() -> bytes:
    """Boot 2: records at uptimes 50..650 every 100 s, TIME_SET at 100
    (V) and at 400 (V + 330: a correction of +30 s); boot 3 set once."""
    rec = ([0] * log.NCHAN, 0)
    return seal_log([
        ("s", 1, 2, 50, 100, [rec] * 7),  # uptimes 50, 150, ..., 650
        ("e", 2, [(100, log.EV_TIME_SET, 0, 0, V), (400, log.EV_TIME_SET, 0, 0, V + 330),
                  (500, log.EV_LOG_ERASED, 0, 0, 0)]),
        ("s", 1, 3, 0, 60, [rec] * 2),
        ("e", 3, [(10, log.EV_TIME_SET, 0, 0, V + 10_000)]),
    ])


def test_a_later_time_set_applies_from_then_on():
    data = logdata.load(_corrected_log())
    s = data.samples
    b2 = s[s["boot"] == 2]
    want = [V - 100 + 50,  # before the first TIME_SET: the first applies
            V - 100 + 150, V - 100 + 250, V - 100 + 350,  # the first (at 100)
            V + 330 - 400 + 450, V + 330 - 400 + 550, V + 330 - 400 + 650]  # the correction
    assert b2["t"].tolist() == [50, 150, 250, 350, 450, 550, 650]
    assert b2["utc"].tolist() == [float(w) for w in want]
    b3 = s[s["boot"] == 3]
    assert b3["utc"].tolist() == [V + 10_000 - 10, V + 10_000 - 10 + 60]
    # events take their own time's clock too: the correction's own UTC is its value
    ev = {(e.boot, e.t): e.utc for e in data.events}
    assert ev[(2, 100)] == V and ev[(2, 400)] == V + 330 and ev[(2, 500)] == V + 330 + 100
    assert any("correcting +30 s" in n for n in data.clock)


def test_streaming_decode_takes_the_same_clock():
    raw = _corrected_log()
    blocks = logdata.walk(raw)[0]
    c = logdata.clock(raw, blocks)
    streamed = np.concatenate(list(logdata.sample_chunks(raw, blocks, c.offsets, 1)))
    assert streamed["utc"].tolist() == logdata.load(raw).samples["utc"].tolist()


def test_spec_7_8_states_the_rule_and_the_pull_anchor():
    s = _section("### 7.8 UTC of a record")
    assert "latest one at or before" in s
    assert "anchor" in s  # how podctl places a boot with no TIME_SET


# -- 7.7: readings in PROBE_FAULT and ALARM_RAISED are signed ----------------


def test_event_readings_are_signed_and_the_sentinel_is_no_reading():
    r = pe.read(log.EV_PROBE_FAULT, 1, 2, (-40000) & 0xFFFFFFFF)
    assert r.value == -40.0 and r.unit == "degC"
    assert np.isnan(pe.read(log.EV_PROBE_FAULT, 1, 1, 0x80000000).value)
    assert log.NO_READING_MDEG & 0xFFFFFFFF == 0x80000000
    from protocol import codes as c

    assert pe.read(log.EV_ALARM_RAISED, c.ALARM_LOW, 0, (-1500) & 0xFFFFFFFF).value == -1.5
    s = _section("### 7.7 Event blocks (kind 2)")
    assert "0x80000000" in s and "NO_READING_MDEG" in s and "signed 32-bit" in s


# -- the pulled folder and the keystore are in the spec ----------------------


def test_spec_describes_the_pulled_folder_and_the_keystore():
    from podctl import keystore, pulled, seal

    s = _section("### 8.4 The pulled folder")
    for name in (pulled.LOG_NAME, pulled.PROFILE_NAME, seal.SEAL_NAME, ".manifest.json",
                 pulled.FORMAT):
        assert name in s, name
    # every field Manifest.parse reads is named
    doc = pulled.Manifest.of_log(b"", device_id="D", fw_version="", fw_hash="",
                                 profile_ident=1, source="",
                                 anchor=pulled.Anchor(1, 2, 3.0)).to_json()
    for k, v in doc.items():
        assert f"`{k}`" in s, k
        if isinstance(v, dict):
            for kk in v:
                assert f"`{k}.{kk}`" in s, (k, kk)
    k = _section("### 8.5 The keystore")
    assert "PODCTL_KEYSTORE" in k and "0600" in k and "oldest first" in k
    assert str(keystore.default_path().name) in k


# -- section 12 names what podctl does with reused boots and a seq wrap ------


def test_spec_12_states_reused_boots_and_seq_wrap():
    s = _section("## 12. Not fixed by this version")
    assert "reused boot number" in s.lower()
    assert "wrap" in s and "seq_back" in s


def test_a_reused_boot_number_shares_one_clock_today():
    """What SPEC 12 says podctl does: two boots with one number (the counter
    restarted by a reflash) are one boot to the clock: the later TIME_SET
    of the pair applies to the records of both from its uptime on."""
    rec = ([0] * log.NCHAN, 0)
    raw = seal_log([
        ("e", 1, [(10, log.EV_TIME_SET, 0, 0, V)]),
        ("s", 1, 1, 100, 60, [rec]),
        ("e", 1, [(0, log.EV_BOOT, 1, 1, 0), (20, log.EV_TIME_SET, 0, 0, V + 5000)]),
        ("s", 1, 1, 100, 60, [rec]),
    ])
    utc = logdata.load(raw).samples["utc"].tolist()
    assert utc == [V + 5000 - 20 + 100] * 2


def test_a_seq_wrap_is_read_as_going_back_today():
    """SPEC 12: a wrap from 2**32 - 1 to 0 fails as seq_back."""
    from podctl.blocks import walk
    from tests.test_decode import KEY

    rec = ([0] * log.NCHAN, 0)
    first = seal_log([("s", 1, 1, 0, 60, [rec])], seq0=0xFFFFFFFF)
    raw = first + seal_log([("s", 1, 1, 60, 60, [rec])], seq0=0, prev=first[-16:])
    codes = [f.code for f in walk(raw, [KEY])[1]]
    assert "seq_back" in codes
