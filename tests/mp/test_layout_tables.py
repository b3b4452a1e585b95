# The struct formats are spelled out for speed; they must equal the tables.
import struct

from protocol import catalogue, codes, frame, log, message, names, profile, wire


def _fmt(fields):
    return "<" + "".join(f[1] for f in fields)


def test_frame_header_format_matches_table():
    assert frame.HEADER_FMT == _fmt(frame.HEADER_FIELDS)
    assert struct.calcsize(frame.HEADER_FMT) == frame.HEADER_LEN


def test_log_header_format_matches_table():
    assert log.HEADER_FMT == _fmt(log.HEADER_FIELDS)
    assert struct.calcsize(log.HEADER_FMT) == log.HEADER_LEN
    assert log.EVENT_FMT == _fmt(log.EVENT_FIELDS)
    assert struct.calcsize(log.EVENT_FMT) == log.EVENT_LEN
    assert len(log.CHANNELS) == log.NCHAN


def test_catalogue_ids_and_names_unique():
    ids = [m[0] for m in catalogue.MESSAGES]
    names = [m[1] for m in catalogue.MESSAGES]
    assert len(set(ids)) == len(ids) and len(set(names)) == len(names)
    codes = [e[0] for e in catalogue.ERRORS]
    assert len(set(codes)) == len(codes)
    evs = [e[0] for e in log.EVENTS]
    assert len(set(evs)) == len(evs)


def test_every_layout_fits_max_payload():
    for m in catalogue.MESSAGES:
        for reply in (False, True):
            fields = catalogue.fields(m[0], reply)
            tails = [f for f in fields if f[1] == "*"]
            assert len(tails) <= 1 and (not tails or fields[-1][1] == "*"), m[1]
            assert message.layout(m[0], reply)[1] <= frame.MAX_PAYLOAD


def test_state_changing_messages_are_authenticated():
    auth = [m[1] for m in catalogue.MESSAGES if m[2]]
    for name in ("TIME_SET", "PROFILE_BEGIN", "PROFILE_CHUNK", "PROFILE_COMMIT",
                 "LOG_ERASE", "LOG_SEAL", "MAINTENANCE", "PHASE_SET", "KEY_ROTATE"):
        assert name in auth, name


def test_seal_layout_and_flags():
    # SPEC 5.11's table: 87 bytes, the nonce at 62, the flags last
    names = message.names(wire.MSG_LOG_SEAL, True)
    assert message.layout(wire.MSG_LOG_SEAL, True)[1] == 87
    assert message.layout(wire.MSG_LOG_SEAL, False)[1] == 16
    at = 0
    offsets = {}
    for f in catalogue.fields(wire.MSG_LOG_SEAL, True):
        offsets[f[0]] = at
        at += struct.calcsize("<" + f[1])
    assert (offsets["last_mac"], offsets["nonce"], offsets["flags"]) == (30, 62, 86), offsets
    assert names[0] == "device_id" and names[-1] == "flags"
    assert catalogue.SEAL_FLAGS == ((wire.SEAL_SIMULATED, "simulated"),
                                    (wire.SEAL_HEAD_DROPPED, "head_dropped"))
    assert wire.SEAL_SIMULATED == 1 and wire.SEAL_HEAD_DROPPED == 2


def test_board_wire_formats_are_the_catalogue_fields():
    # protocol/wire.py is what the firmware packs with; catalogue.MESSAGES
    # is what the host names and decodes: one message, one layout
    rows = [wire.WIRE[i : i + 4] for i in range(0, len(wire.WIRE), 4)]
    assert len(wire.WIRE) == 4 * len(rows)
    assert [w[0] for w in rows] == [m[0] for m in catalogue.MESSAGES]
    for w, m in zip(rows, catalogue.MESSAGES):
        assert w[1] == m[2], m[1]
        assert w[2] == "".join(f[1] for f in m[3]), m[1]
        assert w[3] == "".join(f[1] for f in m[4]), m[1]
    assert not wire.known(0x55) and wire.fmt(0x55, False) is None
    assert wire.known(wire.MSG_ERROR) and wire.authenticated(wire.MSG_KEY_ROTATE)
    assert not wire.authenticated(wire.MSG_STATUS)
    assert wire.fmt(wire.MSG_PROFILE_CHUNK, False) == ("<I", True)
    assert wire.fmt(wire.MSG_STATUS, True)[1] is False


def test_board_profile_format_and_ranges_are_the_named_fields():
    # protocol/profile_bin.py is what the device checks with; profile's
    # HEADER_FIELDS and PHASE_FIELDS are what the host names and explains
    for fields, f, ranges in ((profile.HEADER_FIELDS, profile.HEADER_FMT, profile.HEADER_RANGES),
                              (profile.PHASE_FIELDS, profile.PHASE_FMT, profile.PHASE_RANGES)):
        assert f == _fmt(fields)
        flat = []
        for x in fields:
            flat += [x[3], x[4]]
        assert list(ranges) == flat
    names = [x[0] for x in profile.HEADER_FIELDS]
    for n in ("probe_min", "kp_heat", "safe_heat", "battery_low", "shock", "lid_s",
              "cumulative_s", "control", "min_probes", "safe_mode", "name"):
        assert names.index(n) == getattr(profile, "H_" + n.upper()), n
    assert profile.H_POLICY == names.index("full_policy")


def test_every_alarm_and_mode_has_a_name():
    assert [a[0] for a in names.ALARMS] == list(range(codes.NALARMS))
    for n, label in names.ALARMS + names.MODES + names.FAULTS:
        assert isinstance(n, int) and label
    assert names.name(names.MODES, codes.MODE_HEAT_ONLY) == "heat_only"
    assert names.number(names.ALARMS, "storage") == codes.ALARM_STORAGE
