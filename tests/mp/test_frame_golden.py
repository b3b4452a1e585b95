# Golden frame vectors: both interpreters must produce and read these bytes.
from _support import golden, h, hx

from protocol import catalogue as c
from protocol import frame, message
from protocol.auth import Hmac
from protocol.keys import LINK, LOG, derive

G = golden()
KEY = h(G["key"])  # the device key
LINK_KEY = h(G["link_key"])


def test_link_and_log_keys_derive_from_the_device_key():
    # SPEC 5.14: HMAC(device key, use); neither is the device key itself
    assert derive(KEY, LINK) == LINK_KEY and derive(KEY, LOG) == h(G["log_key"])
    assert len({KEY, LINK_KEY, h(G["log_key"])}) == 3


def _values(v):
    t = v["type"]
    out = []
    fs = c.fields(t, v["reply"])
    for f, x in zip(fs, v["fields"]):
        out.append(h(x) if f[1].endswith("s") or f[1] == "*" else x)
    return out


def test_encode_matches_golden():
    mac = Hmac(LINK_KEY)
    for v in G["frames"]:
        payload = message.pack(v["type"], v["reply"], *_values(v))
        assert hx(payload) == v["payload"], v["name"]
        auth = v["counter"] is not None
        wire = frame.encode(
            v["type"], v["seq"], payload, v["flags"], v["counter"] or 0, mac if auth else None,
            h(v["extra"]),
        )
        assert hx(wire) == v["wire"], v["name"]


def test_decode_golden():
    mac = Hmac(LINK_KEY)
    for v in G["frames"]:
        got = frame.Deframer().feed(h(v["wire"]))
        assert len(got) == 1, v["name"]
        f = got[0]
        assert isinstance(f, frame.Frame), (v["name"], f)
        assert (f.type, f.seq, f.flags) == (v["type"], v["seq"], v["flags"])
        assert hx(f.payload) == v["payload"]
        assert f.counter == v["counter"]
        if v["counter"] is not None:
            extra = h(v["extra"])
            assert f.verify(mac, extra), v["name"]
            assert not f.verify(Hmac(b"wrong key" * 4), extra), v["name"]
            assert not f.verify(Hmac(KEY), extra), v["name"]  # never the device key itself
            if extra:  # the challenge or nonce is part of what is signed
                assert not f.verify(mac), v["name"]
                assert not f.verify(mac, extra[:-1] + bytes([extra[-1] ^ 1])), v["name"]
        fields = message.unpack(v["type"], v["reply"], f.payload)
        assert list(fields) == _values(v), v["name"]


def test_all_golden_frames_in_one_stream():
    stream = b"".join(h(v["wire"]) for v in G["frames"])
    got = frame.Deframer().feed(stream)
    assert [g.seq for g in got] == [v["seq"] for v in G["frames"]]


def test_byte_at_a_time():
    d = frame.Deframer()
    got = []
    for v in G["frames"]:
        for b in h(v["wire"]):
            got += d.feed(bytes([b]))
    assert len(got) == len(G["frames"])
    assert all(isinstance(g, frame.Frame) for g in got)


def test_tampered_auth_frame_fails_verify():
    mac = Hmac(LINK_KEY)
    v = [v for v in G["frames"] if v["name"] == "time set"][0]
    f = frame.Deframer().feed(h(v["wire"]))[0]
    assert f.verify(mac, h(v["extra"]))
    f.signed = f.signed[:-1] + bytes([f.signed[-1] ^ 1])
    assert not f.verify(mac, h(v["extra"]))
