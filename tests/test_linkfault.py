"""A noisy line between podctl and the device (tests/linkfault.py): random
chunks corrupted, dropped and duplicated at 1 % each, and single frames hit
on purpose. Every transfer completes with exactly the right result or fails
with podctl's error, the device and the keystore consistent. make bench
runs the bigger sweep (linkfault_transfers, linkfault_corrupted)."""

from __future__ import annotations

import pytest

import podctl.device
from podctl.device import Device
from podctl.errors import PodctlError
from podctl.keystore import Keystore
from protocol import catalogue as c
from protocol import frame, message
from tests import link_attacks as la
from tests import linkfault as lf


def _bad(res: lf.Results) -> str:
    return "\n".join("\n  ".join([str(o), *o.trace]) for o in res.bad())


@pytest.fixture
def session(tmp_path, monkeypatch):
    """A Session on a PodEnd with two days of log; rules set by each test."""
    end = lf.pod_end(tmp_path / "pod", days=2)
    monkeypatch.setattr(podctl.device, "monotonic", end.now_s)

    def make(*rules: lf.Rule) -> lf.Session:
        return lf.Session(end, tmp_path, seed=5, rules=list(rules))

    return make


def test_random_faults_never_corrupt_a_transfer(tmp_path):
    res = lf.run(transfers=100, seed=7, work=tmp_path, days=2)
    assert res.corrupted == 0 and res.crashed == 0, _bad(res)
    kinds = res.by_kind()
    assert set(kinds) == {k for k, _ in lf.KINDS}
    # the faults bit (some transfers failed), and whole pulls of the log got through
    assert sum(res.faults.values()) > 50 and res.failed >= 1
    assert res.pulls_completed >= 2 and res.pulled_bytes > 25_000


def test_a_dropped_key_rotate_answer_still_rotates(session):
    s = session(lf.Rule("down", c.MSG_KEY_ROTATE, "drop"))
    out = s.transfer("key_rotate")
    assert (out.result, out.wrong) == ("ok", []), out
    assert s.line.faults == {"down drop": 1}
    assert len(s.end.keystore.keys(la.DEVICE)) == 2


def test_every_key_rotate_answer_dropped_still_settles(session):
    # the resends are refused (the device holds the new key): those ERRORs too
    s = session(lf.Rule("down", c.MSG_KEY_ROTATE, "drop", nth=None),
                lf.Rule("down", c.MSG_ERROR, "drop", nth=None))
    out = s.transfer("key_rotate")
    assert (out.result, out.wrong) == ("ok", []), out  # the settling STATUS says so
    assert s.line.faults == {"down drop": 3}


def test_a_corrupted_log_read_answer_mid_pull_is_read_again(session):
    s = session(lf.Rule("down", c.MSG_LOG_READ, "corrupt", nth=10))
    out = s.transfer("pull")
    assert (out.result, out.wrong) == ("ok", []), out
    assert s.line.faults == {"down corrupt": 1}
    assert s.results.pulled_bytes > 20 * lf.podctl.device.LOG_READ_SIZE


def test_a_pull_cut_by_corrupted_answers_resumes_byte_identical(session):
    # the answers to the 11th read and to both its resends
    s = session(*(lf.Rule("down", c.MSG_LOG_READ, "corrupt", nth=n) for n in (10, 11, 12)))
    out = s.transfer("pull")
    assert out.result == "failed" and "continue from byte 10160" in out.error, out
    assert out.wrong == []  # what it left in log.bin.part is the device's head
    out = s.transfer("pull")
    assert (out.result, out.wrong) == ("ok", []), out
    dev = s.dev
    assert dev is not None and dev.last_pull is not None
    assert dev.last_pull.resumed_from == 10160


@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_duplicated_profile_commit_is_taken_once(session, direction):
    s = session(lf.Rule(direction, c.MSG_PROFILE_COMMIT, "duplicate"))
    out = s.transfer("upload")
    assert (out.result, out.wrong) == ("ok", []), out  # one PROFILE_ACCEPTED, the new profile
    assert s.line.faults == {f"{direction} duplicate": 1}


def test_time_sync_counts_from_the_call_not_from_after_identify(session):
    """time_sync(utc): utc is the UTC when it is called; IDENTIFY's resends
    (two lost answers: 4 s of host waits) come after (before: the clock set
    4 s behind)."""
    s = session(lf.Rule("down", c.MSG_IDENTIFY, "drop", nth=0),
                lf.Rule("down", c.MSG_IDENTIFY, "drop", nth=1))
    out = s.transfer("time_sync", utc=lf.UTC0)
    assert (out.result, out.wrong) == ("ok", []), out
    st = la.clean_device(s.end).status()
    assert st.utc_now is not None
    # the device's clock is whole seconds: within one of the host's intent
    assert abs(st.utc_now - (lf.UTC0 + s.end.now_s() - s.before["t0"])) <= 1


# -- the judge is no formality


def test_the_judge_sees_a_pull_that_completes_with_wrong_bytes(session, monkeypatch):
    pull = Device.pull

    def bad_pull(self, out_dir, progress=None):
        path = pull(self, out_dir, progress)
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 1
        path.write_bytes(bytes(raw))
        return path

    monkeypatch.setattr(Device, "pull", bad_pull)
    out = session().transfer("pull")
    assert out.result == "ok" and any("differs from the device's" in w for w in out.wrong)
    assert any("does not verify" in w for w in out.wrong)


def test_the_judge_sees_an_upload_that_returns_uncommitted(session, monkeypatch):
    command = Device.command

    def no_commit(self, msg_type, *values):
        if msg_type == c.MSG_PROFILE_COMMIT:
            return {}
        return command(self, msg_type, *values)

    monkeypatch.setattr(Device, "command", no_commit)
    out = session().transfer("upload")
    assert out.result == "ok" and any("runs another profile" in w for w in out.wrong), out


def test_the_judge_sees_a_keystore_that_lost_the_new_key(session, monkeypatch):
    monkeypatch.setattr(Keystore, "confirm_pending", Keystore.drop_pending)
    out = session().transfer("key_rotate")
    assert any("does not hold the device's key" in w for w in out.wrong), out


# -- on the virtual board (the firmware on the micropython binary)


def test_random_faults_on_the_virtual_board(tmp_path):
    end = la.BoardEnd(tmp_path / "board")
    try:
        res = lf.run(transfers=15, seed=3, end=end, work=tmp_path)
    finally:
        end.close()
    assert res.corrupted == 0 and res.crashed == 0, _bad(res)
    assert res.transfers == 15


# -- an answer to another request with the request's seq (a session before
# this one numbered its requests from 1 too, and its late answer is still
# on the line): a noisy line cannot make one (CRC), a slow port can


class _Early:
    """Before the host's first request of type reaches the device, the
    device's answer to another request (other, with values) of the same
    seq is put on the line: what an earlier session left there."""

    def __init__(self, end: la.End, type: int, other: int, *values):
        self.end = end
        self.type, self.other, self.values = type, other, values
        self._split = la._Splitter()
        self.done = False

    def write(self, data: bytes) -> int:
        for _chunk, f in self._split.feed(bytes(data)):
            if isinstance(f, frame.Frame) and f.type == self.type and not self.done:
                self.done = True
                payload = message.pack(self.other, False, *self.values)
                self.end.write(b"\x00" + frame.encode(self.other, f.seq, payload))
        return self.end.write(data)

    def read(self, size: int) -> bytes:
        return self.end.read(size)

    def close(self) -> None:
        pass


@pytest.fixture
def pod(tmp_path):
    return lf.pod_end(tmp_path / "pod", days=1)


def test_a_profile_read_answer_is_not_taken_for_the_log(pod, tmp_path):
    """Same layout, same seq: before, the profile's bytes became the
    pulled log's head (CheckFailed, and every pull again resumed on them)."""
    early = _Early(pod, c.MSG_LOG_READ, c.MSG_PROFILE_READ, 0, 1016)
    dev = Device("early", keystore=pod.keystore, timeout=pod.timeout, transport=early)
    raw = dev.pull(tmp_path / "out").read_bytes()
    assert early.done
    mirror = lf.Mirror(pod)
    mirror.seal()
    assert raw == mirror.data[: len(raw)] and len(raw) > 10_000


def test_a_profile_read_answer_for_another_offset_is_refused(pod):
    """Before: the profile read returned bytes 8.. then the rest again, as
    if it were the profile."""
    early = _Early(pod, c.MSG_PROFILE_READ, c.MSG_PROFILE_READ, 8, 1016)
    dev = Device("early", keystore=pod.keystore, timeout=pod.timeout, transport=early)
    with pytest.raises(PodctlError, match="profile read of byte 0 with byte 8"):
        dev.profile()
    assert dev.profile() == la.two_phases()


def test_a_pull_that_fails_its_end_check_starts_over_next_time(session):
    # a pull cut at byte 10160, its part then damaged at the head
    s = session(*(lf.Rule("down", c.MSG_LOG_READ, "corrupt", nth=n) for n in (10, 11, 12)))
    assert s.transfer("pull").result == "failed"
    part = s.pull_dir / "log.bin.part"
    part.write_bytes(bytes(64) + part.read_bytes()[64:])
    out = s.transfer("pull")
    assert out.result == "failed" and out.error.startswith("CheckFailed"), out
    assert not part.exists()  # before: kept, and every pull again failed the same way
    out = s.transfer("pull")
    assert (out.result, out.wrong) == ("ok", []), out
