"""The keystore keeps every key it is given and shows it to nobody else
(issue 14 S6, SPEC 8.5): a fresh 0600 file written through no link, a
keystore that is a link, not a plain file, another user's or open to others
refused with nothing changed, a device id's history never overwritten,
default device ids that never clash within a keystore, and the pending key
of a key rotation."""

from __future__ import annotations

import json
import math
import os
import stat

import pytest
from rich.console import Console

from podctl import flash_cmd
from podctl.errors import BadInput
from podctl.keystore import Keystore

A, B, C = bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34))


def _mode(p) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def _one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text


# -- writing: a fresh 0600 file, through no link, flushed to disk ------------


def test_a_leftover_0644_new_file_does_not_make_a_0644_keystore(tmp_path):
    p = tmp_path / "keys.json"
    left = tmp_path / "keys.json.new"
    left.write_text("half a keystore from a crashed write")
    left.chmod(0o644)
    Keystore(p).add("POD00001", A)
    assert _mode(p) == 0o600 and not left.exists()
    assert Keystore(p).keys("POD00001") == [A]


def test_a_symlink_at_the_new_file_is_not_followed(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("not a keystore")
    (tmp_path / "keys.json.new").symlink_to(target)
    p = tmp_path / "keys.json"
    Keystore(p).add("POD00001", A)
    assert target.read_text() == "not a keystore"
    assert stat.S_ISREG(os.lstat(p).st_mode) and _mode(p) == 0o600
    assert not os.path.lexists(tmp_path / "keys.json.new")


def test_a_new_directory_is_0700_and_the_file_and_directory_are_synced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    p = tmp_path / "new" / "keys.json"
    Keystore(p).add("POD00001", A)
    assert _mode(p.parent) & 0o077 == 0
    assert [stat.S_ISREG(s.st_mode) for s in synced] == [True, False]  # the file, then its dir
    assert synced[1].st_ino == os.stat(p.parent).st_ino


def test_a_failed_write_changes_nothing_and_leaves_no_new_file(tmp_path, monkeypatch):
    ks = Keystore(tmp_path / "keys.json")
    ks.add("POD00001", A)
    before = ks.path.read_bytes()

    def fail(*a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(BadInput, match="cannot write the keystore: No space left") as e:
        ks.append("POD00001", B)
    _one_line(e)
    assert ks.path.read_bytes() == before and not (tmp_path / "keys.json.new").exists()


# -- reading: a plain file of this user's, mode 0600, or nothing -------------


def test_a_symlinked_keystore_is_refused_and_untouched(tmp_path):
    real = Keystore(tmp_path / "real.json")
    real.add("POD00001", A)
    before = real.path.read_bytes()
    link = tmp_path / "keys.json"
    link.symlink_to(real.path)
    ks = Keystore(link)
    for call in (lambda: ks.keys("POD00001"), lambda: ks.add("POD00002", B),
                 lambda: ks.append("POD00001", B), lambda: "POD00001" in ks):
        with pytest.raises(BadInput) as e:
            call()
        assert _one_line(e) == (
            f"{link}: keystore is a symbolic link: podctl keeps keys only in a plain file; "
            "replace the link with the file it points to"
        )
    assert link.is_symlink() and real.path.read_bytes() == before
    assert not (tmp_path / "keys.json.new").exists()


@pytest.mark.parametrize("mode, word", [(0o640, "readable"), (0o604, "readable"),
                                        (0o620, "writable"), (0o602, "writable")],
                         ids=["0640", "0604", "0620", "0602"])
def test_a_keystore_open_to_others_is_refused_and_untouched(tmp_path, mode, word):
    ks = Keystore(tmp_path / "keys.json")
    ks.add("POD00001", A)
    ks.path.chmod(mode)
    before = ks.path.read_bytes()
    for call in (lambda: ks.keys("POD00001"), lambda: ks.add("POD00002", B)):
        with pytest.raises(BadInput, match=f"keystore is {word} by others .mode {mode:o}.: "
                                           "chmod 600") as e:
            call()
        _one_line(e)
    assert ks.path.read_bytes() == before and _mode(ks.path) == mode


def test_a_keystore_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    ks = Keystore(tmp_path / "keys.json")
    ks.add("POD00001", A)
    before = ks.path.read_bytes()
    monkeypatch.setattr(os, "getuid", lambda: os.stat(ks.path).st_uid + 1)
    for call in (lambda: ks.keys("POD00001"), lambda: ks.add("POD00002", B)):
        with pytest.raises(BadInput, match="keystore is owned by another user") as e:
            call()
        _one_line(e)
    monkeypatch.undo()
    assert ks.path.read_bytes() == before


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_keystore_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    p = tmp_path / "keys.json"
    if kind == "directory":
        p.mkdir(mode=0o700)
    else:
        os.mkfifo(p, 0o600)  # the old reader blocked on it for ever
    with pytest.raises(BadInput, match="keystore is not a regular file") as e:
        Keystore(p).keys("POD00001")
    _one_line(e)


def test_the_environment_selects_the_keystore(tmp_path, monkeypatch):
    monkeypatch.setenv("PODCTL_KEYSTORE", str(tmp_path / "env.json"))
    Keystore().add("POD00001", A)
    assert Keystore(tmp_path / "env.json").keys("POD00001") == [A]


# -- add: a first key, never over a history ----------------------------------


def test_add_of_a_taken_id_with_another_key_is_refused_and_the_history_kept(tmp_path):
    ks = Keystore(tmp_path / "keys.json")
    ks.add("POD00001", A)
    ks.append("POD00001", B)
    before = ks.path.read_bytes()
    for other in (C, A):  # a new key, or one the history had before its newest
        with pytest.raises(BadInput) as e:
            ks.add("POD00001", other)
        text = _one_line(e)
        assert "POD00001" in text and "choose another id" in text
    assert ks.keys("POD00001") == [A, B] and ks.path.read_bytes() == before
    assert ks.add("POD00001", B) == ks.path  # the newest again: nothing changes
    assert ks.path.read_bytes() == before


def test_add_refuses_over_a_malformed_history(tmp_path):
    p = tmp_path / "keys.json"
    Keystore(p).add("POD00009", A)
    p.write_text(json.dumps({"POD00001": ["zz"]}))
    with pytest.raises(BadInput, match="POD00001.*not hex"):
        Keystore(p).add("POD00001", A)
    assert json.loads(p.read_text()) == {"POD00001": ["zz"]}


# -- default device ids ------------------------------------------------------


def _urandom_queue(monkeypatch, draws: list[bytes]) -> list[int]:
    """os.urandom answering 16-byte requests (an id's draw) from `draws` in turn; the sizes
    asked are returned as they come."""
    asked: list[int] = []
    real = os.urandom

    def fake(n: int) -> bytes:
        asked.append(n)
        return draws.pop(0) if n == 16 and draws else real(n)

    monkeypatch.setattr(os, "urandom", fake)
    return asked


def test_default_ids_are_13_crockford_characters_64_bits_the_first_a_letter(tmp_path):
    ks = Keystore(tmp_path / "keys.json")
    ids = {flash_cmd.new_device_id(ks) for _ in range(500)}
    assert len(ids) == 500
    for i in ids:
        assert len(i) == 13 and set(i) <= set(flash_cmd.CROCKFORD) and i[0].isalpha()
        assert not set(i) & set("ILOU")
    # issue 14, S6: at least 64 bits, and the id fits the wire's 16 bytes
    assert math.log2(22 * 32**12) >= 64 and len(i.encode()) <= flash_cmd.ID_MAX == 16


def test_a_default_id_the_keystore_has_is_drawn_again(tmp_path, monkeypatch):
    ks = Keystore(tmp_path / "keys.json")
    _urandom_queue(monkeypatch, [bytes(16)])
    clash = flash_cmd.new_device_id(ks)
    assert clash == "A000000000000"
    ks.add(clash, A)
    asked = _urandom_queue(monkeypatch, [bytes(16), bytes(16), b"\xff" * 16])
    fresh = flash_cmd.new_device_id(ks)
    assert asked == [16, 16, 16] and fresh != clash and len(fresh) == 13


class _Blank:
    """The mpremote transport of a device never provisioned."""

    def __init__(self, provisioned: bool = False):
        self.provisioned = provisioned
        self.ran: list[str] = []

    def fs_exists(self, path: str) -> bool:
        return path == "identity" and self.provisioned

    def exec(self, code: str) -> None:
        self.ran.append(code)


def test_flash_draws_another_default_id_on_a_clash(tmp_path, monkeypatch):
    ks = Keystore(tmp_path / "keys.json")
    ks.add("A000000000000", A)
    asked = _urandom_queue(monkeypatch, [bytes(16), b"\x01" * 16])
    t = _Blank()
    assert flash_cmd._provision(t, None, ks, Console(file=open(os.devnull, "w")))
    assert asked == [16, 16, 32]  # a clash, a free id, then the key
    assert ks.keys("A000000000000") == [A]
    (new,) = set(ks.devices()) - {"A000000000000"}
    assert len(new) == 13 and set(new) <= set(flash_cmd.CROCKFORD)
    assert repr((new.encode() + bytes(16))[:16]) in t.ran[0]  # the id the device is given


def test_flash_refuses_a_taken_device_id_before_provisioning(tmp_path):
    ks = Keystore(tmp_path / "keys.json")
    ks.add("POD00042", A)
    before = ks.path.read_bytes()
    t = _Blank()
    console = Console(file=open(os.devnull, "w"))
    with pytest.raises(BadInput) as e:
        flash_cmd._provision(t, "POD00042", ks, console)
    assert "POD00042" in _one_line(e) and "--device-id" in str(e.value)
    assert t.ran == [] and ks.path.read_bytes() == before
    # a provisioned device keeps its id and key: flashing it again is fine
    assert flash_cmd._provision(_Blank(provisioned=True), "POD00042", ks, console) is False
    # a free id given explicitly is used as given
    assert flash_cmd._provision(t, "POD00043", ks, console)
    assert ks.devices() == ["POD00042", "POD00043"]


# -- the pending key of a rotation -------------------------------------------


def test_pending_key_round_trip(tmp_path):
    ks = Keystore(tmp_path / "keys.json")
    ks.add("POD00001", A)
    assert ks.pending("POD00001") is None and ks.candidates("POD00001") == [A]
    assert ks.set_pending("POD00001", B) == ks.path
    assert json.loads(ks.path.read_text()) == {"POD00001": {"keys": [A.hex()],
                                                            "pending": B.hex()}}
    assert ks.pending("POD00001") == B
    assert ks.keys("POD00001") == [A] and ks.key("POD00001") == A  # the history only
    assert ks.candidates("POD00001") == [A, B]
    before = ks.path.read_bytes()
    ks.set_pending("POD00001", B)  # the same key again: nothing changes
    assert ks.path.read_bytes() == before
    ks.confirm_pending("POD00001")
    assert ks.keys("POD00001") == [A, B] and ks.pending("POD00001") is None
    # written back as a plain list, the form an older podctl reads
    assert json.loads(ks.path.read_text()) == {"POD00001": [A.hex(), B.hex()]}
    ks.confirm_pending("POD00001")  # nothing pending: nothing changes
    assert ks.keys("POD00001") == [A, B]
    ks.set_pending("POD00001", C)
    ks.drop_pending("POD00001")
    assert ks.keys("POD00001") == [A, B] and ks.pending("POD00001") is None
    assert json.loads(ks.path.read_text()) == {"POD00001": [A.hex(), B.hex()]}
    ks.drop_pending("POD00001")  # nothing pending: nothing changes
    assert _mode(ks.path) == 0o600


def test_pending_key_refusals(tmp_path):
    ks = Keystore(tmp_path / "keys.json")
    with pytest.raises(BadInput, match="no key for device POD00001"):
        ks.set_pending("POD00001", B)
    assert not ks.path.exists()
    ks.add("POD00001", A)
    ks.set_pending("POD00001", B)
    before = ks.path.read_bytes()
    with pytest.raises(BadInput) as e:
        ks.set_pending("POD00001", C)
    text = _one_line(e)
    assert "a key rotation of POD00001 is unsettled" in text and "podctl key check" in text
    ks.drop_pending("POD00001")
    with pytest.raises(BadInput, match="already in the history of POD00001"):
        ks.set_pending("POD00001", A)
    with pytest.raises(BadInput, match="32 bytes"):
        ks.set_pending("POD00001", b"short")
    assert ks.pending("POD00001") is None
    ks.set_pending("POD00001", B)
    assert ks.path.read_bytes() == before
    for call in (ks.pending, ks.candidates, ks.confirm_pending, ks.drop_pending):
        with pytest.raises(BadInput, match="no key for device POD00002"):
            call("POD00002")


def test_append_and_drop_newest_keep_the_pending_key(tmp_path):
    ks = Keystore(tmp_path / "keys.json")
    ks.add("POD00001", A)
    ks.set_pending("POD00001", C)
    ks.append("POD00001", B)
    assert ks.keys("POD00001") == [A, B] and ks.pending("POD00001") == C
    ks.drop_newest("POD00001")
    assert ks.keys("POD00001") == [A] and ks.pending("POD00001") == C


# -- the file's three forms, read strictly -----------------------------------

K = A.hex()
MALFORMED = [
    (["zz" * 32], "a key of POD00001 is not hex"),
    ([K[:-2]], "a key of POD00001 is 62 hex digits, not 64"),
    ([K + "00"], "a key of POD00001 is 66 hex digits, not 64"),
    ([" ".join(K[i:i + 2] for i in range(0, 64, 2))], "a key of POD00001 is not hex"),
    ([7], "a key of POD00001 is not a hex string"),
    ([], "device POD00001 has an empty key history"),
    (7, "the entry of POD00001 is a int"),
    (None, "the entry of POD00001 is a NoneType"),
    ({"keys": K}, 'the "keys" of POD00001 are not a list'),
    ({"pending": K}, 'the entry of POD00001 has no "keys"'),
    ({"keys": [], "pending": K}, "device POD00001 has an empty key history"),
    ({"keys": [K], "pending": 7}, "the pending key of POD00001 is not a hex string"),
    ({"keys": [K], "pending": None}, "the pending key of POD00001 is not a hex string"),
    ({"keys": [K], "pending": "zz"}, "the pending key of POD00001 is not hex"),
    ({"keys": [K], "pending": K[:10]}, "the pending key of POD00001 is 10 hex digits"),
    ({"keys": [K], "extra": 1}, "the entry of POD00001 has unknown field(s) 'extra'"),
]


@pytest.mark.parametrize("entry, says", MALFORMED, ids=[m[1] for m in MALFORMED])
def test_a_malformed_entry_is_refused_naming_the_device_and_the_fix(tmp_path, entry, says):
    p = tmp_path / "keys.json"
    Keystore(p).add("POD00009", A)  # a 0600 file of this user's
    p.write_text(json.dumps({"POD00001": entry, "POD00009": [K]}))
    before = p.read_bytes()
    ks = Keystore(p)
    for call in (ks.keys, ks.pending, ks.candidates, ks.confirm_pending, ks.drop_pending,
                 lambda d: ks.add(d, B), lambda d: ks.set_pending(d, B),
                 lambda d: ks.append(d, B)):
        with pytest.raises(BadInput) as e:
            call("POD00001")
        text = _one_line(e)
        assert says in text and "fix the entry of POD00001" in text
    assert p.read_bytes() == before
    assert ks.keys("POD00009") == [A]  # the other devices still read


def test_the_three_forms_read(tmp_path):
    p = tmp_path / "keys.json"
    Keystore(p).add("POD00009", A)
    p.write_text(json.dumps({
        "LONE": K,
        "LIST": [K, B.hex().upper()],
        "PEND": {"keys": [K], "pending": C.hex()},
        "NOPE": {"keys": [K]},
    }))
    ks = Keystore(p)
    assert ks.keys("LONE") == [A] and ks.pending("LONE") is None
    assert ks.keys("LIST") == [A, B]
    assert ks.candidates("PEND") == [A, C] and ks.key("PEND") == A
    assert ks.candidates("NOPE") == [A]
    ks.confirm_pending("PEND")
    assert json.loads(p.read_text())["PEND"] == [K, C.hex()]
    assert json.loads(p.read_text())["LONE"] == K  # other entries are kept as they were


def test_a_link_made_after_the_check_is_not_followed(tmp_path, monkeypatch):
    real = Keystore(tmp_path / "real.json")
    real.add("POD00001", A)
    p = tmp_path / "keys.json"
    Keystore(p).add("POD00002", B)
    real_lstat = os.lstat

    def swap(path, *a, **k):  # the plain file checked, then a link in its place
        st = real_lstat(path, *a, **k)
        if str(path) == str(p) and not stat.S_ISLNK(st.st_mode):
            os.replace(tmp_path / "link", p)
        return st

    (tmp_path / "link").symlink_to(real.path)
    monkeypatch.setattr(os, "lstat", swap)
    with pytest.raises(BadInput, match="keystore is a symbolic link"):
        Keystore(p).keys("POD00001")
