# The log as the host reads it: the names of the layout's fields, channels,
# status bits and events, and decoders for a block's records. The layout
# itself (formats, sizes, codes, the block writer and parser) is defined in
# protocol/block.py, which is all the firmware carries; everything there is
# re-exported here, so host code says log.X for either.
import struct

from protocol.block import *  # noqa: F401,F403 the layout: defined there
from protocol.block import EVENT_FMT, EVENT_LEN, FMT_DELTA4, HEADER_LEN

# EV_BOOT.a = reset cause | BOOT_SIMULATED when the HAL is no real hardware
# (protocol/block.py; firmware/pod.py writes the bit)
BOOT_SIMULATED = 0x80

# Refusals counted rather than logged one by one (issue 15, F7): those no key
# checked, and signed frames replayed late (STALE), after the first on a
# quiet line; firmware/pod.py writes the code as a number (a name in
# protocol/block.py would cost the board a qstr).
EV_REFUSALS = 15
# What a rate or disagree exclusion compared the reading with (issue 17),
# logged right after its PROBE_FAULT by firmware/probes.py (SPEC 9.3).
EV_PROBE_REFERENCE = 16
# An output driven hard without effect (issue 17), firmware/control.py's
# actuator watch, logged by firmware/pod.py with alarm 10 `actuator` (SPEC 9.4).
EV_ACTUATOR_FAULT = 17
# 16 and 17 join EVENTS below with SPEC 7.7's rows, tests/spec_decoder.py's
# names and host/podctl/events.py's units, in one change: the independent
# decoder is held to podctl's names and values (tests/test_spec_decoder.py);
# until then both show EVENT_16 and EVENT_17 with the value as stored.
# ACTUATOR_FAULT a and alarm `actuator`'s value: the outputs, bit by bit
ACTUATORS = ((1, "heater"), (2, "peltier_heating"), (4, "peltier_cooling"))

# (name, struct code): the block header in flash order; host/podctl/codec.py reads it.
HEADER_FIELDS = (
    ("magic", "4s"),
    ("layout", "B"),
    ("kind", "B"),
    ("fmt", "B"),  # samples: delta width in bytes; events: 0
    ("nchan", "B"),  # samples: channels per record; events: record size
    ("seq", "I"),
    ("boot", "H"),
    ("count", "H"),  # records in the block
    ("t0", "I"),  # uptime second of the first record
    ("interval", "H"),  # seconds between sample records; events: 0
    ("length", "H"),  # payload bytes
)

# Sample channels of layout 1, in record order: (name, stored unit, scale to
# the display unit, display unit). value = stored * scale.
CHANNELS = (
    ("probe0", "cdegC", 0.01, "degC"),
    ("probe1", "cdegC", 0.01, "degC"),
    ("probe2", "cdegC", 0.01, "degC"),
    ("probe3", "cdegC", 0.01, "degC"),
    ("humidity", "permille_rh", 0.1, "%RH"),
    ("pressure", "dhPa", 0.1, "hPa"),
    ("heater", "percent", 1, "%"),
    ("peltier", "percent", 1, "%"),  # + cools, - heats
    ("battery", "mV", 0.001, "V"),
)

STATUS_BITS = (
    (STATUS_HEATING, "heating"),
    (STATUS_COOLING, "cooling"),
    (STATUS_ALARM, "alarm"),
    (STATUS_PROBE_FAULT, "probe_fault"),
    (STATUS_SAFE_MODE, "safe_mode"),
    (STATUS_LID_OPEN, "lid_open"),
    (STATUS_BATTERY_LOW, "battery_low"),
    (STATUS_TIME_SET, "time_set"),
)

EVENT_FIELDS = (("t", "I"), ("code", "B"), ("a", "B"), ("b", "H"), ("value", "I"))

# (code, name, meaning of a, of b, of value)
EVENTS = (
    (EV_BOOT, "BOOT", "reset cause (| 0x80: simulated board)", "boot count", "firmware version"),
    (EV_PHASE, "PHASE", "new phase", "source: 0 timeline, 1 command, 2 resumed at boot", ""),
    (EV_ALARM_RAISED, "ALARM_RAISED", "alarm", "phase", "reading, mdegC or mV"),
    (EV_ALARM_CLEARED, "ALARM_CLEARED", "alarm", "phase", ""),
    (EV_PROFILE_ACCEPTED, "PROFILE_ACCEPTED", "", "", "profile identity (profile.ident)"),
    (
        EV_PROFILE_REFUSED,
        "PROFILE_REFUSED",
        "reason",
        "where (protocol/profile.py)",
        "profile identity",
    ),
    (
        EV_PROBE_FAULT,
        "PROBE_FAULT",
        "probe",
        "fault kind",
        "reading, mdegC (read faults: NO_READING_MDEG)",
    ),
    (EV_PROBE_RECOVERED, "PROBE_RECOVERED", "probe", "", ""),
    (EV_TIME_SET, "TIME_SET", "", "", "UTC seconds at this uptime"),
    (EV_LOG_ERASED, "LOG_ERASED", "", "", "bytes erased"),
    (EV_COMMAND_REFUSED, "COMMAND_REFUSED", "message type", "error code", "counter"),
    (EV_MODE, "MODE", "new mode", "old mode", ""),
    (
        EV_STORAGE_FULL,
        "STORAGE_FULL",
        "0 stop policy; 1 blocks dropped; 2 records dropped",
        "a = 1: blocks dropped",
        "0: log bytes; 1: first seq dropped; 2: records dropped so far",
    ),
    (EV_KEY_ROTATED, "KEY_ROTATED", "", "", "counter"),
    (EV_REFUSALS, "REFUSALS", "last message type", "last error code", "refusals counted"),
    (
        EV_PROBE_REFERENCE,
        "PROBE_REFERENCE",
        "probe",
        "fault kind << 8 | rate: seconds since the previous reading; disagree: probes"
        " of the median (bit n = probe n) | 0x10 when trusted",
        "reference, mdegC (signed): rate the previous reading, disagree the median",
    ),
    (
        EV_ACTUATOR_FAULT,
        "ACTUATOR_FAULT",
        "outputs found without effect: 1 heater, 2 Peltier heating, 4 Peltier cooling",
        "seconds they were driven hard (the window judged)",
        "how far the payload moved in it, mdegC (signed)",
    ),
)


def event_name(code):
    for e in EVENTS:
        if e[0] == code:
            return e[1]
    return "EVENT_%d" % code


def samples(data, blk):
    """Decode a sample block: list of (t, values list, status). Slow path,
    the reference the host's numpy decoder is checked against."""
    at = blk.offset + HEADER_LEN
    nchan = blk.nchan
    values = list(struct.unpack_from("<%dh" % nchan, data, at))
    at += 2 * nchan
    status = data[at]
    out = [(blk.t0, list(values), status)]
    at += 1
    if blk.fmt == FMT_DELTA4:
        # nibbles low first: the status's change, then a delta per channel;
        # 8 takes the next exception, read from the payload's end backwards
        exc = blk.offset + HEADER_LEN + blk.length
        for i in range(1, blk.count):
            for j in range(nchan + 1):
                v = data[at + j // 2] >> 4 * (j & 1) & 15
                if v == 8:
                    exc -= 2
                    v = struct.unpack_from("<h", data, exc)[0]
                elif v > 8 and j:  # an int4 delta; the status's is a mask
                    v -= 16
                if j == 0:
                    status ^= v & 0xFF
                else:
                    # modulo 2**16: any int16 may follow any
                    values[j - 1] = (values[j - 1] + v + 0x8000) % 0x10000 - 0x8000
            at += (nchan + 2) // 2
            out.append((blk.t0 + i * blk.interval, list(values), status))
        return out
    dfmt = ("<%db" if blk.fmt == 1 else "<%dh") % nchan
    for i in range(1, blk.count):
        deltas = struct.unpack_from(dfmt, data, at)
        at += nchan * blk.fmt
        for c in range(nchan):
            values[c] += deltas[c]
        out.append((blk.t0 + i * blk.interval, list(values), data[at]))
        at += 1
    return out


def events(data, blk):
    """Decode an event block: list of (t, code, a, b, value)."""
    at = blk.offset + HEADER_LEN
    return [struct.unpack_from(EVENT_FMT, data, at + i * EVENT_LEN) for i in range(blk.count)]
