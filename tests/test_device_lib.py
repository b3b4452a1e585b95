"""podctl as a library: Device's typed verbs against the virtual board, with
progress callbacks and the errors of one hierarchy; the Keystore type; and
`import podctl` without pyserial, argparse or rich."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

import podctl
from podctl import errors, profile_file
from podctl.cli import main
from podctl.device import Device, DeviceInfo, LogInfo, Status, TimeSync
from podctl.errors import (
    EXIT_BAD_INPUT,
    EXIT_LINK,
    BadInput,
    CheckFailed,
    DeviceRefused,
    LinkError,
    PodctlError,
)
from podctl.keystore import Keystore
from protocol import catalogue as c
from protocol import log
from protocol import profile as pf
from tests.test_decode import seal_log
from tests.test_e2e import Board


def test_import_podctl_loads_no_serial_argparse_or_rich():
    code = (
        "import sys, podctl\n"
        "from podctl import Device, Keystore\n"
        "from podctl.device import Status, DeviceInfo\n"
        "from podctl.errors import PodctlError\n"
        "bad = [m for m in ('serial', 'argparse', 'rich') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 0, p.stderr


def test_the_public_names():
    assert podctl.Device is Device and podctl.Keystore is Keystore and podctl.Status is Status
    assert podctl.PodctlError is PodctlError and podctl.DeviceRefused is DeviceRefused
    with pytest.raises(AttributeError):
        podctl.NoSuchThing  # noqa: B018


def test_one_error_hierarchy_each_with_its_status():
    table = {
        errors.CheckFailed: 1, errors.UsageError: 2, errors.LinkError: 3,
        errors.DeviceMismatch: 3, errors.BadInput: 4, errors.DeviceRefused: 5,
    }
    for cls, status in table.items():
        e = cls("x") if cls is not DeviceRefused else cls("x", c.ERR_BAD_TAG)
        assert isinstance(e, PodctlError) and e.status == status
    assert errors.CommandError is PodctlError
    assert PodctlError("x", 4).status == 4 and PodctlError("x").status == 1


# -- the keystore


def test_keystore_history_and_the_module_functions(tmp_path):
    from podctl import keystore

    ks = Keystore(tmp_path / "k" / "keys.json")
    a, b = bytes(range(32)), bytes(range(1, 33))
    ks.add("POD00001", a)
    assert (tmp_path / "k" / "keys.json").stat().st_mode & 0o777 == 0o600
    ks.append("POD00001", b)
    assert ks.keys("POD00001") == [a, b] and ks.key("POD00001") == b
    assert "POD00001" in ks and ks.devices() == ["POD00001"]
    ks.drop_newest("POD00001")
    assert ks.keys("POD00001") == [a]
    ks.drop_newest("POD00001")  # never the last one
    assert ks.keys("POD00001") == [a]
    # the functions the log verbs call, same file, same answers
    assert keystore.device_keys("POD00001", ks.path) == [a]
    assert keystore.device_key("POD00001", ks.path) == a
    os.environ["PODCTL_KEYSTORE"] = str(ks.path)
    try:
        assert keystore.path() == ks.path == Keystore().path
    finally:
        del os.environ["PODCTL_KEYSTORE"]
    with pytest.raises(BadInput, match="32 bytes"):
        ks.add("POD00002", b"short")


def test_keystore_refusals(tmp_path):
    p = tmp_path / "keys.json"
    ks = Keystore(p)
    with pytest.raises(BadInput) as e:
        ks.keys("POD00009")
    # the advice names the command that provisions a key, and the option
    # that finds the keystore it went to
    text = str(e.value)
    assert "no key for device POD00009" in text and "podctl flash" in text and "--keystore" in text
    p.write_text(json.dumps({"POD00009": ["zz"]}))
    p.chmod(0o644)
    with pytest.raises(BadInput, match="readable by others"):
        ks.keys("POD00009")
    p.chmod(0o600)
    with pytest.raises(BadInput, match="not hex"):
        ks.keys("POD00009")
    p.write_text("[" * 100_000)
    with pytest.raises(BadInput, match="keystore unreadable"):
        ks.keys("POD00009")


# -- the Device, on a virtual board


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lib")
    b = Board(tmp, speed=20)
    keys = Keystore(tmp / "keys.json")
    try:
        assert main(["flash", "--port", b.port, "--keystore", str(keys.path)]) == 0
        yield b, keys
    finally:
        b.stop()


def test_info_and_status_are_typed(board):
    b, keys = board
    with Device(b.port, keystore=keys) as dev:
        info = dev.info()
        deadline = time.monotonic() + 10
        while (st := dev.status()).uptime_s < 2:  # the first ticks after the flash's reboot
            assert time.monotonic() < deadline
            time.sleep(0.1)
        li = dev.log_info()
    assert isinstance(info, DeviceInfo) and [info.device_id] == keys.devices()
    assert (
        re.fullmatch(r"\d+\.\d+\.\d+", info.fw_version)
        and re.fullmatch(r"[0-9a-f]{16}", info.fw_hash)
    )
    assert info.protocol == c.PROTOCOL_VERSION and info.max_payload_bytes == 1024
    assert isinstance(st, Status) and isinstance(st.payload_c, float) and -40 < st.payload_c < 60
    assert len(st.probes_mdeg) == 4 and st.battery_mv > 0 and st.uptime_s >= 0
    assert json.dumps(st.to_json())  # all JSON values
    assert isinstance(li, LogInfo) and li.size_bytes > 0 and li.last_seq >= li.first_seq


def test_time_sync_reports_the_drift(board):
    b, keys = board
    with Device(b.port, keystore=keys) as dev:
        first = dev.time_sync(utc=1_700_000_000)
        second = dev.time_sync()
        st = dev.status()
    assert isinstance(first, TimeSync) and first.utc == 1_700_000_000
    # the board's clock ran from 2023 when it was set again now
    assert (
        second.previous_utc is not None
        and second.drift_s is not None
        and second.drift_s < -1_000_000
    )
    assert st.utc_now is not None and abs(st.utc_now - second.utc) < 60


def test_profile_upload_with_progress(board):
    b, keys = board
    blob = profile_file.compile_file("nominal")
    seen: list[tuple[int, int]] = []
    with Device(b.port, keystore=keys) as dev:
        ident = dev.profile_upload(blob, progress=lambda done, total: seen.append((done, total)))
        assert dev.profile() == blob
        # bytes the device would refuse never leave the host
        with pytest.raises(BadInput, match="profile not sent"):
            dev.profile_upload(blob[:-1] + bytes([blob[-1] ^ 1]))
    assert ident == pf.ident(blob)
    assert seen[0][0] == 0 and seen[-1] == (len(blob), len(blob))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 2


class _DropReplies:
    """A transport that loses the device's answers of one message type, the
    first `n` times (a USB hiccup just after the device acted); every other
    frame passes as it came, its signature intact."""

    def __init__(self, url: str, msg_type: int, n: int = 1):
        from podctl.serialport import SerialTransport

        self.inner = SerialTransport(url)
        self.msg_type = msg_type
        self.n = n
        self._buf = b""

    def write(self, data: bytes) -> object:
        return self.inner.write(data)

    def read(self, size: int) -> bytes:
        from protocol import frame

        self._buf += self.inner.read(size)
        out = b""
        while b"\x00" in self._buf:
            chunk, self._buf = self._buf.split(b"\x00", 1)
            got = frame.Deframer().feed(chunk + b"\x00")
            if got and isinstance(got[0], frame.Frame) and got[0].type == self.msg_type \
                    and self.n > 0:
                self.n -= 1
                continue
            out += chunk + b"\x00"
        return out

    def close(self) -> None:
        self.inner.close()


def test_a_profile_commit_whose_answer_was_lost_is_not_reported_refused(board):
    # the device took the COMMIT, its answer was lost; the resend finds no
    # upload open (BAD_STATE): the host checks the profile in force instead
    # of reporting a refusal (found in the SPEC review of issue 14)
    b, keys = board
    blob = profile_file.compile_file("nominal")
    blob2 = profile_file.compile_file("incubation")
    with Device(b.port, keystore=keys) as dev:
        dev.profile_upload(blob2)
    t = _DropReplies(b.port, c.MSG_PROFILE_COMMIT)
    with Device(b.port, keystore=keys, transport=t, timeout=1.0) as dev:
        assert dev.profile_upload(blob) == pf.ident(blob)
        assert t.n == 0 and dev.profile() == blob


def test_pull_with_progress_then_resumed(board, tmp_path, monkeypatch):
    from podctl import device

    b, keys = board
    out = tmp_path / "pulled"
    real = Device.request
    reads = {"n": 0}

    def cut_on_third_read(self, msg_type, *values):
        if msg_type == c.MSG_LOG_READ:
            reads["n"] += 1
            if reads["n"] == 3:
                raise LinkError("link lost: device unplugged")
        return real(self, msg_type, *values)

    monkeypatch.setattr(device, "LOG_READ_SIZE", 32)
    monkeypatch.setattr(Device, "request", cut_on_third_read)
    with Device(b.port, keystore=keys) as dev, pytest.raises(LinkError) as e:
        dev.pull(out)
    assert (
        e.value.status == EXIT_LINK
        and f"pull again into {out} to continue from byte 64" in str(e.value)
    )
    monkeypatch.setattr(Device, "request", real)
    seen: list[tuple[int, int]] = []
    with Device(b.port, keystore=keys) as dev:
        path = dev.pull(out, progress=lambda done, total: seen.append((done, total)))
        stats = dev.last_pull
    assert path == out / "log.bin" and not (out / "log.bin.part").exists()
    assert stats is not None and stats.resumed_from == 64 == seen[0][0]
    assert seen[-1] == (stats.log_bytes, stats.log_bytes) == (path.stat().st_size,) * 2
    assert stats.transferred_bytes == stats.log_bytes - 64 and stats.profile
    assert (out / "profile.bin").read_bytes() == profile_file.compile_file("nominal")
    # what the pull wrote is a log the library verifies with the keystore
    pulled = podctl.open_pulled(out)
    verdict = podctl.verify(pulled, keys.keys(pulled.manifest.device_id))
    assert verdict.ok, [str(f) for f in verdict.findings]


def test_the_pull_judges_what_it_got_with_verify(tmp_path):
    """A pull whose bytes end short of the block the device reported fails
    with podctl.verify's finding (pull again); the log's own damage is a
    note, not a failed transfer."""
    from podctl.device import Device as Dev
    from podctl.pulled import Manifest, Pulled

    dev = Dev.__new__(Dev)
    dev.keystore = Keystore(tmp_path / "none.json")
    raw = seal_log([("e", 1, [(0, log.EV_BOOT, 1, 0, 0)])] * 3)
    for ends, fails in (((0, 2, raw[-16:]), False), ((0, 7, bytes(16)), True)):
        m = Manifest.of_log(raw, device_id="D", fw_version="0.1.0", fw_hash="", profile_ident=None,
                            source="pull test", ends=ends)
        pulled = Pulled(tmp_path / "log.bin", raw, m, tmp_path / "m.json")
        if fails:
            with pytest.raises(CheckFailed, match="7 as its last: 5 block.s. missing.*pull again"):
                dev._check_pull(pulled)
        else:
            assert dev._check_pull(pulled) == []


def test_refusal_and_missing_key_through_the_library_and_the_cli(board, tmp_path, capsys):
    b, keys = board
    dev_id = keys.devices()[0]
    wrong = Keystore(tmp_path / "wrong.json")
    wrong.add(dev_id, bytes(32))
    # a wrong key is found before any command is sent: the device signs its
    # STATUS (over our nonce) under a key this keystore does not hold
    with Device(b.port, keystore=wrong) as dev, pytest.raises(BadInput) as e:
        dev.time_sync()
    assert "under none of its keys" in str(e.value) and e.value.status == EXIT_BAD_INPUT
    code = main(["time", "sync", "--port", b.port, "--keystore", str(wrong.path)])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--keystore" in err
    empty = tmp_path / "empty.json"
    with Device(b.port, keystore=empty) as dev, pytest.raises(BadInput) as missing:
        dev.time_sync()
    assert main(["key", "rotate", "--port", b.port, "--keystore", str(empty)]) == EXIT_BAD_INPUT
    capsys.readouterr()
    # the advice once was "flash it with podctl flash": but flashing a
    # provisioned device keeps its key, and refuses without it
    assert main(["flash", "--port", b.port, "--keystore", str(empty)]) == EXIT_BAD_INPUT
    assert "is provisioned, but its key is not in" in capsys.readouterr().err
    text = str(missing.value)
    assert (
        "flash it" not in text
        and "first flash" in text
        and "--keystore or PODCTL_KEYSTORE" in text
    )
    assert not empty.exists()  # a refused command changed nothing


def test_key_rotate_then_erase(board, tmp_path):
    b, keys = board
    dev_id = keys.devices()[0]
    before = keys.keys(dev_id)
    with Device(b.port, keystore=keys) as dev:
        assert dev.key_rotate() == keys.path
        assert keys.keys(dev_id)[:-1] == before and len(keys.keys(dev_id)) == len(before) + 1
        dev.time_sync()  # the same session signs with the new key
        path = dev.pull(tmp_path / "p")
        held = dev.log_info()
        erased = dev.erase(held.last_seq)
        after = dev.log_info()
    # the blocks the host held are gone from the device; seq keeps rising
    assert path.exists() and erased > 0 and after.first_seq > held.first_seq


class _StaleLink:
    """A link whose device refuses the first `stale` commands STALE (the
    challenge aged out before the command arrived), then answers."""

    def __init__(self, stale: int):
        self.stale, self.sent = stale, 0

    def request(self, msg_type, *values, **signed):
        self.sent += 1
        if self.sent <= self.stale:
            raise DeviceRefused("STALE", c.ERR_STALE, msg_type=msg_type)
        return {"ok": True}


def _stale_device(stale: int) -> tuple[Device, list[int]]:
    from podctl import device as device_mod

    dev = Device.__new__(Device)
    statuses: list[int] = []
    dev._load_key = lambda: None  # type: ignore[method-assign]
    dev._link_keys = lambda: None  # type: ignore[method-assign]
    dev._status = lambda keys: statuses.append(1) or {}  # type: ignore[method-assign]
    dev._hmac, dev._next_counter, dev._challenge = None, lambda: 1, b"c"  # type: ignore[assignment]
    dev.link = _StaleLink(stale)  # type: ignore[assignment]
    assert device_mod.STALE_TRIES == 4
    return dev, statuses


def test_command_signs_again_over_a_fresh_challenge_while_stale():
    # a board flown 3000x faster than real time ages a 30 s challenge in
    # 10 ms of ours: a loaded host sees STALE more than once in a row
    dev, statuses = _stale_device(3)
    assert dev.command(c.MSG_TIME_SET, 1) == {"ok": True}
    assert len(statuses) == 4  # a fresh STATUS (challenge) before each try


def test_command_gives_up_after_its_tries_with_the_devices_refusal():
    dev, statuses = _stale_device(4)
    with pytest.raises(DeviceRefused) as e:
        dev.command(c.MSG_TIME_SET, 1)
    assert e.value.code == c.ERR_STALE and len(statuses) == 4


def test_command_does_not_retry_another_refusal():
    dev, statuses = _stale_device(0)
    dev.link.request = lambda *a, **k: (_ for _ in ()).throw(  # type: ignore[method-assign]
        DeviceRefused("AUTH", c.ERR_AUTH_REQUIRED))
    with pytest.raises(DeviceRefused):
        dev.command(c.MSG_TIME_SET, 1)
    assert len(statuses) == 1
