# The message catalogue as the board carries it: message ids, header flags,
# error codes, and each message's payload as a struct format. The firmware
# imports this module only; protocol/catalogue.py adds the field names, units
# and error hints the host shows, and tests/mp/test_layout_tables.py checks
# that every format here is the one catalogue.MESSAGES's fields spell.
#
# Why two modules: on the board a module's tables are built in RAM when it is
# imported (the bytecode stays in flash). The named field tables cost about
# 14 KiB of heap on the unix port, these formats under 2 KiB, and the
# firmware must run in a 64 KiB heap (tests/test_firmware_heap.py).
try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# Protocol version carried in every frame header. A peer refuses any other
# version with ERR_BAD_VERSION; the ERROR message's layout never changes, so
# that refusal is readable by every version. Version 2: the reply to an
# authenticated request is authenticated too, commands are bound to a
# single-use challenge from STATUS, STATUS and LOG_INFO answer signed with
# the host's nonce (SPEC 4.1), the link and the log use keys derived from
# the device key, KEY_ROTATE's key is wrapped (5.14), device ids are 16
# bytes (64 random bits by default: a fleet never collides), and LOG_SEAL.
PROTOCOL_VERSION = const(2)

# Header flags.
FLAG_REPLY = const(0x01)  # set on every device -> host answer
FLAG_AUTH = const(0x02)  # frame carries a counter and an HMAC tag

# Message ids. Requests and their replies share the id; replies set FLAG_REPLY.
MSG_IDENTIFY = const(0x01)
MSG_STATUS = const(0x02)
MSG_TIME_SET = const(0x10)
MSG_PROFILE_BEGIN = const(0x20)
MSG_PROFILE_CHUNK = const(0x21)
MSG_PROFILE_COMMIT = const(0x22)
MSG_PROFILE_READ = const(0x23)
MSG_LOG_INFO = const(0x30)
MSG_LOG_READ = const(0x31)
MSG_LOG_ERASE = const(0x32)
MSG_LOG_SEAL = const(0x33)
MSG_MAINTENANCE = const(0x40)
MSG_PHASE_SET = const(0x41)
MSG_KEY_ROTATE = const(0x42)
MSG_ERROR = const(0x7F)

# Maintenance actions (MSG_MAINTENANCE.action).
MAINT_REPL = const(1)  # stop serving, restore Ctrl-C, drop to the REPL
MAINT_REBOOT = const(2)  # machine.reset() after the reply is sent

# LOG_SEAL's flags: what the device says of itself and of its log's head.
SEAL_SIMULATED = const(0x01)  # the HAL is no real hardware (simulator, test)
SEAL_HEAD_DROPPED = const(0x02)  # the blocks before first_seq went by the overwrite policy

# Why a frame or a request was refused: the deframer's verdicts and the
# device's ERROR codes share this one table. (code, name, what to do)
ERR_BAD_COBS = const(1)
ERR_TRUNCATED = const(2)
ERR_OVERSIZE = const(3)
ERR_BAD_CRC = const(4)
ERR_BAD_VERSION = const(5)
ERR_UNKNOWN_TYPE = const(6)
ERR_BAD_LENGTH = const(7)
ERR_BAD_PAYLOAD = const(8)
ERR_AUTH_REQUIRED = const(9)
ERR_BAD_TAG = const(10)
ERR_REPLAYED = const(11)
ERR_BUSY = const(12)
ERR_BAD_STATE = const(13)
ERR_OUT_OF_RANGE = const(14)
ERR_STORAGE = const(15)
ERR_BAD_PROFILE = const(16)
ERR_STALE = const(17)
ERR_COUNTER_END = const(18)  # the counter is 0xFFFFFFFF: only KEY_ROTATE, which restarts it

# Four items a message: id, authenticated, request format, reply format. A
# format is struct's codes without the "<" (every payload is little-endian)
# and may end in "*": the rest of the payload, raw bytes. One flat tuple,
# not a tuple a message: half the heap on the board.
WIRE = (  # type: tuple
    MSG_IDENTIFY, False, "", "16sI8sBBH",
    MSG_STATUS, False, "16s", "IIHBBHBBiiiiiiiiHhHII16sII8s",
    MSG_TIME_SET, True, "I", "II",
    MSG_PROFILE_BEGIN, True, "II", "",
    MSG_PROFILE_CHUNK, True, "I*", "I",
    MSG_PROFILE_COMMIT, True, "I", "I",
    MSG_PROFILE_READ, False, "IH", "II*",
    MSG_LOG_INFO, False, "16s", "III16s",
    MSG_LOG_READ, False, "IH", "II*",
    MSG_LOG_ERASE, True, "I", "I",
    MSG_LOG_SEAL, True, "16s", "16s4sHII16sIIII16s8sB",
    MSG_MAINTENANCE, True, "B", "",
    MSG_PHASE_SET, True, "B", "B",
    MSG_KEY_ROTATE, True, "32s", "",
    MSG_ERROR, False, "", "BBH",
)


def known(msg_type):
    """Where msg_type's four items start in WIRE, plus one (so its
    authenticated item's index), or 0 if unknown: true for a known type.
    (One function, not a helper beside it: every global is a qstr and a slot
    in this module's dict, which the board's heap holds.)"""
    for i in range(0, len(WIRE), 4):
        if WIRE[i] == msg_type:
            return i + 1
    return 0


def authenticated(msg_type):
    return WIRE[known(msg_type)]


def fmt(msg_type, reply):
    """struct format of the fixed part, and whether a '*' tail follows.

    Returns (format, has_tail) or None for an unknown type.
    """
    i = known(msg_type)
    if not i:
        return None
    f = WIRE[i + 2] if reply else WIRE[i + 1]
    if f.endswith("*"):
        return "<" + f[:-1], True
    return "<" + f, False
