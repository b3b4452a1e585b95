# The message catalogue: every message on the USB link, defined once.
#
# Runs on MicroPython (board, unix port) and CPython. The host builds its
# construct definitions from MESSAGES (host/podctl/codec.py); the firmware packs and
# unpacks with the formats of protocol/wire.py, which a test holds to these
# fields. Nothing else in the project may restate a message id, a field or an
# error code.
#
# A field is (name, code, unit):
#   code  a struct code, little-endian: B b H h I i Q q, or "Ns" for N raw
#         bytes, or "*" for "the rest of the payload" (last field only).
#   unit  what the number means: "s", "ms", "mdegC" (milli-degrees Celsius),
#         "permille", "mV", "bytes", "" for identifiers and flags.
from protocol.wire import *  # noqa: F401,F403 ids, flags, error codes: defined there
from protocol.wire import fmt  # noqa: F401 the board's formats, checked against MESSAGES

# Open requests whose reply a device with a key signs over the host's nonce
# (the request's first 16 bytes): what they say can become evidence, and the
# nonce makes an old answer useless (SPEC 4.1). firmware/link.py spells the
# two out (a table on the board costs qstrs).
NONCE_SIGNED = (MSG_STATUS, MSG_LOG_INFO)  # noqa: F405

_STATUS_REPLY = (
    ("uptime", "I", "s"),  # monotonic seconds since this boot
    ("utc_at_boot", "I", "s"),  # UTC of uptime 0, 0 = never set
    ("boot_count", "H", ""),
    ("phase", "B", ""),  # index into the active profile's phases
    ("mode", "B", ""),  # controller mode, see SPEC.md "Modes"
    ("alarms", "H", ""),  # latched alarm bits
    ("probe_ok", "B", ""),  # bit n set = probe n passes validation
    ("flags", "B", ""),  # the log's status flags, as in sample records
    ("payload_temp", "i", "mdegC"),  # controller's estimate
    ("setpoint", "i", "mdegC"),
    ("band_low", "i", "mdegC"),
    ("band_high", "i", "mdegC"),
    ("probe0", "i", "mdegC"),
    ("probe1", "i", "mdegC"),
    ("probe2", "i", "mdegC"),
    ("probe3", "i", "mdegC"),
    ("heater", "H", "permille"),
    ("peltier", "h", "permille"),  # + cools, - heats
    ("battery", "H", "mV"),
    ("out_of_band", "I", "s"),  # cumulative time out of band, all phases
    ("log_seq", "I", ""),  # last flushed block's sequence number
    ("log_mac", "16s", ""),  # last flushed block's MAC
    ("log_bytes", "I", "bytes"),
    ("counter", "I", ""),  # last accepted auth counter
    ("challenge", "8s", ""),  # single-use: the next command's tag covers it
)

# (id, name, authenticated, request fields, reply fields)
MESSAGES = (
    (
        MSG_IDENTIFY,
        "IDENTIFY",
        False,
        (),
        (
            ("device_id", "16s", ""),  # printable, NUL-padded
            ("fw_version", "I", ""),  # major << 16 | minor << 8 | patch
            ("fw_hash", "8s", ""),  # first 8 bytes of the bundle's SHA-256
            ("protocol", "B", ""),
            ("log_layout", "B", ""),
            ("max_payload", "H", "bytes"),
        ),
    ),
    # STATUS and LOG_INFO: open, but the reply is signed with the request's
    # nonce when the device has a key (NONCE_SIGNED, SPEC 4.1)
    (MSG_STATUS, "STATUS", False, (("nonce", "16s", ""),), _STATUS_REPLY),
    (
        MSG_TIME_SET,
        "TIME_SET",
        True,
        (("utc", "I", "s"),),
        (("uptime", "I", "s"), ("previous_utc", "I", "s")),  # 0 = none
    ),
    (
        MSG_PROFILE_BEGIN,
        "PROFILE_BEGIN",
        True,
        (("size", "I", "bytes"), ("crc", "I", "")),
        (),
    ),
    (
        MSG_PROFILE_CHUNK,
        "PROFILE_CHUNK",
        True,
        (("offset", "I", "bytes"), ("data", "*", "")),
        (("received", "I", "bytes"),),
    ),
    (
        MSG_PROFILE_COMMIT,
        "PROFILE_COMMIT",
        True,
        (("crc", "I", ""),),
        (("crc", "I", ""),),
    ),
    (
        MSG_PROFILE_READ,
        "PROFILE_READ",
        False,
        (("offset", "I", "bytes"), ("length", "H", "bytes")),
        (("offset", "I", "bytes"), ("size", "I", "bytes"), ("data", "*", "")),
    ),
    (
        MSG_LOG_INFO,
        "LOG_INFO",
        False,
        (("nonce", "16s", ""),),
        (
            ("size", "I", "bytes"),
            ("first_seq", "I", ""),
            ("last_seq", "I", ""),
            ("last_mac", "16s", ""),
        ),
    ),
    (
        MSG_LOG_READ,
        "LOG_READ",
        False,
        (("offset", "I", "bytes"), ("length", "H", "bytes")),
        (("offset", "I", "bytes"), ("size", "I", "bytes"), ("data", "*", "")),
    ),
    (
        MSG_LOG_ERASE,
        "LOG_ERASE",
        True,
        (("last_seq", "I", ""),),  # the newest block the host holds
        (("erased", "I", "bytes"),),
    ),
    (
        MSG_LOG_SEAL,
        "LOG_SEAL",
        True,
        (("nonce", "16s", ""),),  # the host's fresh random, echoed
        (
            ("device_id", "16s", ""),  # printable, NUL-padded
            ("key_id", "4s", ""),  # keys.key_id: which device key signs, not the key
            ("boot_count", "H", ""),
            ("first_seq", "I", ""),  # oldest block held
            ("last_seq", "I", ""),  # newest block, after the open one was sealed
            ("last_mac", "16s", ""),  # its chain MAC
            ("size", "I", "bytes"),  # bytes in the log
            ("counter", "I", ""),  # the request's, now the last accepted
            ("uptime", "I", "s"),
            ("utc", "I", "s"),  # the device's UTC now, 0 = never set
            ("nonce", "16s", ""),  # the request's
            ("fw_hash", "8s", ""),  # as IDENTIFY's
            ("flags", "B", ""),  # SEAL_FLAGS
        ),
    ),
    (
        MSG_MAINTENANCE,
        "MAINTENANCE",
        True,
        (("action", "B", ""),),
        (),
    ),
    (
        MSG_PHASE_SET,
        "PHASE_SET",
        True,
        (("phase", "B", ""),),
        (("phase", "B", ""),),
    ),
    (
        MSG_KEY_ROTATE,
        "KEY_ROTATE",
        True,
        # the new key, wrapped: XOR HMAC(link key, "podctl key wrap" ||
        # the request's challenge || its counter) (SPEC 5.14)
        (("key", "32s", ""),),
        (),
    ),
    (
        MSG_ERROR,
        "ERROR",
        False,
        (),
        (
            ("code", "B", ""),  # one of ERRORS
            ("refused_type", "B", ""),  # message type that was refused
            ("detail", "H", ""),  # code-specific, e.g. the device's version
        ),
    ),
)

# LOG_SEAL's flag bits and their names
SEAL_FLAGS = (
    (SEAL_SIMULATED, "simulated"),
    (SEAL_HEAD_DROPPED, "head_dropped"),
)

ERRORS = (
    (ERR_BAD_COBS, "BAD_COBS", "frame is not valid COBS: line noise, resend"),
    (ERR_TRUNCATED, "TRUNCATED", "frame shorter than header and CRC: resend"),
    (ERR_OVERSIZE, "OVERSIZE", "frame longer than the maximum: split the payload"),
    (ERR_BAD_CRC, "BAD_CRC", "CRC mismatch: line noise, resend"),
    (ERR_BAD_VERSION, "BAD_VERSION", "peer speaks another protocol version: update one side"),
    (ERR_UNKNOWN_TYPE, "UNKNOWN_TYPE", "device does not serve this message type: update one side"),
    (ERR_BAD_LENGTH, "BAD_LENGTH", "header length disagrees with the frame: resend"),
    (ERR_BAD_PAYLOAD, "BAD_PAYLOAD", "payload does not fit the message layout"),
    (ERR_AUTH_REQUIRED, "AUTH_REQUIRED", "state-changing request without counter and tag"),
    (ERR_BAD_TAG, "BAD_TAG", "HMAC tag does not match: wrong key for this device"),
    (ERR_REPLAYED, "REPLAYED", "counter not above the last accepted one: replay refused"),
    (ERR_BUSY, "BUSY", "device could not serve the request (a fault it logged): retry"),
    (ERR_BAD_STATE, "BAD_STATE", "request out of order: start the transfer again"),
    (ERR_OUT_OF_RANGE, "OUT_OF_RANGE", "offset or value out of range"),
    (ERR_STORAGE, "STORAGE", "device storage failed or full"),
    (ERR_BAD_PROFILE, "BAD_PROFILE", "profile refused: see detail reason code"),
    (ERR_STALE, "STALE", "command signed for a spent challenge (late, repeated or reordered): "
     "ask STATUS for a fresh challenge and resend"),
    (ERR_COUNTER_END, "COUNTER_END", "the command counter is at its end (0xFFFFFFFF): only "
     "KEY_ROTATE with counter 0xFFFFFFFF is taken; the new key's counter starts at 0"),
)


def message(msg_type):
    """The catalogue entry for msg_type, or None if unknown."""
    for m in MESSAGES:
        if m[0] == msg_type:
            return m
    return None


def error_name(code):
    for e in ERRORS:
        if e[0] == code:
            return e[1]
    return "ERROR_%d" % code


def error_hint(code):
    for e in ERRORS:
        if e[0] == code:
            return e[2]
    return "unknown error code %d" % code


def fields(msg_type, reply):
    m = message(msg_type)
    if m is None:
        return None
    return m[4] if reply else m[3]
