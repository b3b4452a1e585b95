# IDENTIFY: who this board is and what it runs.
import firmware
from protocol import block as log
from protocol import frame, message
from protocol import wire as c


def version_word():
    v = firmware.VERSION
    return v[0] << 16 | v[1] << 8 | v[2]


def identify_handler(device_id, fw_hash):
    """A LinkServer handler answering IDENTIFY for this device.

    device_id: 16 bytes (NUL-padded); fw_hash: first 8 bytes of the bundle's SHA-256.
    """

    def handler(values, buf, at):
        return message.pack_into(
            buf,
            at,
            c.MSG_IDENTIFY,
            True,
            device_id,
            version_word(),
            fw_hash,
            c.PROTOCOL_VERSION,
            log.LAYOUT_VERSION,
            frame.MAX_PAYLOAD,
        )

    return handler
