# The link's handlers (firmware/commands.py) and the pod (firmware/pod.py),
# on both interpreters: the import runs pod -> commands and no firmware
# module imports itself in a circle; the handlers ask the pod only what the
# Commands docstring lists ("what the link may ask of the pod"), and they
# serve a stand-in pod that has that and nothing else.
import os

import _profiles
from _profiles import phase
from _support import _root, flash

from firmware import storefile
from firmware.commands import handlers
from firmware.link import LinkServer
from protocol import catalogue as c
from protocol import frame, message
from protocol import profile as pf
from protocol.auth import Hmac

# What the link may ask of the pod, as the Commands docstring lists it.
READS = ("root", "uptime", "phase", "profile", "store")
SETS = ("repl_requested", "reboot_requested")
CALLS = (
    "status_into",
    "log_seal",
    "set_time",
    "set_phase",
    "accept_profile",
    "refuse_profile",
    "flush",
    "erase_through",
    "rotate",
)
# ... and of the log it reads through pod.store
LOG_READS = ("size", "first", "last_seq", "last_mac", "read_into")


def _firmware():
    return _root() + "/firmware"


def _imports_in(text):
    """Firmware modules (relative names: "pod", "hal.rp2") that source text
    imports, at the top or inside a function."""
    out = []
    for line in text.split("\n"):
        line = line.split("#")[0].strip()
        if line.startswith("from firmware"):
            k = line.find(" import ")
            mod = line[5:k].strip()
            if mod == "firmware":  # from firmware import a, b: submodules or names
                for n in line[k + 8 :].replace("(", "").replace(")", "").split(","):
                    n = n.strip().split(" ")[0]
                    if n:
                        out.append(n)
            elif mod.startswith("firmware."):
                out.append(mod[9:])
        elif line.startswith("import firmware."):
            for n in line[7:].split(","):
                out.append(n.strip().split(" ")[0][9:])
    return out


def _graph():
    """{module: set of firmware modules it imports} over firmware/."""
    files = {}
    for n in os.listdir(_firmware()):
        if n.endswith(".py") and n != "__init__.py":
            files[n[:-3]] = _firmware() + "/" + n
    for n in os.listdir(_firmware() + "/hal"):
        if n.endswith(".py"):
            files["hal" if n == "__init__.py" else "hal." + n[:-3]] = _firmware() + "/hal/" + n
    graph = {}
    for mod, path in files.items():
        with open(path) as f:
            text = f.read()
        # a name that is no module of ours (firmware.VERSION, _bundle made
        # by podctl flash) is no edge
        graph[mod] = {m for m in _imports_in(text) if m in files and m != mod}
    return graph


def _cycle(graph):
    """One import cycle as [a, b, ..., a], or None."""
    state = {}  # 1: on the path, 2: done
    path = []

    def visit(n):
        state[n] = 1
        path.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return path[path.index(m) :] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_checks_see_the_cycle_there_was():
    # the two import lines that made commands <-> pod a circle
    assert _imports_in("from firmware.pod import PROFILE\n") == ["pod"]
    assert _imports_in(
        "    def boot(self):\n        from firmware.commands import handlers\n"
    ) == ["commands"]
    assert _imports_in("from firmware import ram, storefile  # why\nimport firmware\n") == [
        "ram",
        "storefile",
    ]
    assert _cycle({"commands": {"pod"}, "pod": {"commands"}}) == ["commands", "pod", "commands"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_pod_imports_commands_and_no_firmware_module_imports_in_a_circle():
    g = _graph()
    assert "commands" in g["pod"]  # the one arrow between them
    assert "pod" not in g["commands"], g["commands"]
    assert _cycle(g) is None, _cycle(g)


def _code_lines(text):
    """Source lines outside docstrings, comments cut off."""
    out = []
    in_doc = False
    for line in text.split("\n"):
        quotes = line.count('"""')
        if in_doc or quotes:
            if quotes % 2:
                in_doc = not in_doc
            continue
        out.append(line.split("#")[0])
    return out


def _ident(s, at):
    end = at
    while end < len(s) and (s[end].isalpha() or s[end].isdigit() or s[end] == "_"):
        end += 1
    return s[at:end]


def test_commands_ask_the_pod_only_what_the_docstring_lists():
    with open(_firmware() + "/commands.py") as f:
        text = f.read()
    asked = set()
    for line in _code_lines(text):
        at = line.find("pod.")
        while at >= 0:
            before = line[at - 1] if at else " "
            if not (before.isalpha() or before.isdigit() or before == "_"):
                asked.add(_ident(line, at + 4))
            at = line.find("pod.", at + 4)
    assert "status_into" in asked and "root" in asked  # the scan sees them
    assert asked <= set(READS + SETS + CALLS), sorted(asked - set(READS + SETS + CALLS))
    # the docstring names every one of them
    doc = text[text.find("What the link may ask of the pod") :]
    for name in READS + SETS + CALLS + LOG_READS:
        assert name in doc, name


def test_the_pod_provides_what_the_link_may_ask():
    from _rig import pod

    p = pod()
    for name in READS + SETS + CALLS:
        assert hasattr(p, name), name
    for name in LOG_READS:
        assert hasattr(p.store, name), name


# --- a stand-in pod with the interface and nothing else ----------------------

_told = []  # what the handlers asked of the stand-in: kept off it, so it has no extra names
_STATUS = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    -9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    -18,
    19,
    20,
    21,
    b"M" * 16,
    23,
    24,
    b"CHALLNGE",
)


class _Log:
    """The log, as the link reads it."""

    def __init__(self):
        self.data = bytes(range(256)) * 3
        self.size = len(self.data)
        self.last_seq = 41
        self.last_mac = b"\xaa" * 16

    def first(self):
        return 7

    def read_into(self, offset, dest):
        n = min(len(dest), self.size - offset)
        dest[:n] = self.data[offset : offset + n]
        return n


class NarrowPod:
    def __init__(self, root):
        self.root = root
        self.uptime = 100
        self.phase = 0
        self.profile = None
        self.store = _Log()
        self.repl_requested = False
        self.reboot_requested = False

    def status_into(self, buf, at):
        return message.pack_into(buf, at, c.MSG_STATUS, True, *_STATUS)

    def log_seal(self, values, buf, at):
        _told.append(("log_seal", values))
        return message.pack_into(buf, at, c.MSG_LOG_SEAL, True, b"POD00042", b"KEY!", 3, 7, 41,
                                 self.store.last_mac, self.store.size, 9, self.uptime, 0,
                                 values[0], b"\x01" * 8, 0)

    def set_time(self, utc):
        _told.append(("set_time", utc))
        return 1_799_999_990

    def set_phase(self, i):
        _told.append(("set_phase", i))
        self.phase = i

    def accept_profile(self, prof):
        _told.append(("accept_profile", prof.crc))
        self.profile = prof

    def refuse_profile(self, reason, where, crc):
        _told.append(("refuse_profile", reason, where, crc))

    def flush(self):
        _told.append(("flush",))

    def erase_through(self, seq):
        _told.append(("erase_through", seq))
        return 123

    def rotate(self, key):
        _told.append(("rotate", bytes(key)))


class _Guard:
    """The guard's part, not the pod's: takes every tag, signs with its key."""

    hmac = Hmac(b"k" * 32)

    def check(self, f):
        return 0


class _Host:
    """Frames to a LinkServer over the handlers; (reply type, values)."""

    def __init__(self, p):
        self.sent = []
        self.link = LinkServer(self.sent.append, handlers(p, b"POD00042", b"\x01" * 8))
        self.link.auth = _Guard()
        self.seq = 0

    def ask(self, msg_type, *values):
        self.seq += 1
        payload = message.pack(msg_type, False, *values)
        kw = {}
        auth = c.message(msg_type)[2]
        if auth:
            kw = {"flags": c.FLAG_AUTH, "counter": self.seq, "hmac": _Guard.hmac}
        del self.sent[:]
        self.link.feed(frame.encode(msg_type, self.seq, payload, **kw))
        d = frame.Deframer()
        got = []
        for b in self.sent:
            got += d.feed(bytes(b))
        assert len(got) == 1, got
        r = got[0]
        # an authenticated request's answer is signed, with its counter; an
        # open one's is not, but STATUS and LOG_INFO are, over their nonce
        if auth:
            assert r.counter == self.seq and r.verify(_Guard.hmac)
        elif msg_type in c.NONCE_SIGNED:
            assert r.counter == 0 and r.verify(_Guard.hmac, values[0])
        else:
            assert r.counter is None
        return r.type, message.unpack(r.type, True, r.payload)

    def ok(self, msg_type, *values):
        t, v = self.ask(msg_type, *values)
        assert t == msg_type, (t, v)
        return v


def test_commands_serve_a_pod_that_has_only_what_the_link_may_ask():
    del _told[:]
    p = NarrowPod(flash())
    names = sorted(p.__dict__)
    assert names == sorted(READS + SETS)
    assert sorted(n for n in dir(NarrowPod) if not n.startswith("_")) == sorted(CALLS)
    host = _Host(p)
    assert host.ok(c.MSG_IDENTIFY)[0] == b"POD00042" + bytes(8)
    assert host.ok(c.MSG_STATUS, b"n" * 16) == _STATUS
    assert host.ok(c.MSG_TIME_SET, 1_800_000_000) == (100, 1_799_999_990)
    assert host.ok(c.MSG_PROFILE_READ, 0, 64) == (0, 0, b"")
    # an upload, resumed, checked, stored where the pod boots from, accepted
    new = _profiles.make([phase(b"a", 0), phase(b"b", 0, setpoint=6000)])
    host.ok(c.MSG_PROFILE_BEGIN, len(new), pf.ident(new))
    host.ok(c.MSG_PROFILE_CHUNK, 0, new[:50])
    assert host.ok(c.MSG_PROFILE_CHUNK, 40, new[40:]) == (len(new),)
    assert host.ok(c.MSG_PROFILE_COMMIT, pf.ident(new)) == (pf.ident(new),)
    assert p.profile.data == new and storefile.read(p.root, storefile.PROFILE) == new
    assert host.ok(c.MSG_PROFILE_READ, 10, 20) == (10, len(new), new[10:30])
    # a refused one: the reason in the ERROR's detail and told to the pod
    bad = _profiles.make([phase(), phase(setpoint=9000)])
    host.ok(c.MSG_PROFILE_BEGIN, len(bad), pf.ident(bad))
    host.ok(c.MSG_PROFILE_CHUNK, 0, bad)
    t, (code, typ, detail) = host.ask(c.MSG_PROFILE_COMMIT, pf.ident(bad))
    assert (t, code, typ) == (c.MSG_ERROR, c.ERR_BAD_PROFILE, c.MSG_PROFILE_COMMIT)
    assert (detail >> 12, detail & 0xFFF) == (pf.REFUSE_BAND, 0x810)
    assert p.profile.data == new
    assert host.ok(c.MSG_PHASE_SET, 1) == (1,)
    assert host.ask(c.MSG_PHASE_SET, 2)[1][0] == c.ERR_OUT_OF_RANGE
    # the log, through pod.store and the pod's own verbs
    assert host.ok(c.MSG_LOG_INFO, b"n" * 16) == (768, 7, 41, b"\xaa" * 16)
    assert host.ok(c.MSG_LOG_READ, 700, 100) == (700, 768, p.store.data[700:])
    assert host.ask(c.MSG_LOG_READ, 769, 1)[1][0] == c.ERR_OUT_OF_RANGE
    nonce = bytes(range(16))
    seal = host.ok(c.MSG_LOG_SEAL, nonce)
    assert seal[10] == nonce and seal[3:6] == (7, 41, b"\xaa" * 16)
    assert host.ok(c.MSG_LOG_ERASE, 41) == (123,)
    host.ok(c.MSG_KEY_ROTATE, bytes(range(32)))
    host.ok(c.MSG_MAINTENANCE, c.MAINT_REBOOT)
    assert p.reboot_requested and not p.repl_requested
    assert _told == [
        ("set_time", 1_800_000_000),
        ("accept_profile", pf.ident(new)),
        ("refuse_profile", pf.REFUSE_BAND, 0x810, pf.ident(bad)),
        ("set_phase", 1),
        ("flush",),  # LOG_SEAL's: an open LOG_INFO no longer writes flash
        ("log_seal", (bytes(range(16)),)),
        ("erase_through", 41),
        ("rotate", bytes(range(32))),
    ], _told
    assert sorted(p.__dict__) == names  # the handlers added nothing to the pod
