# Serve the link on this process's stdin/stdout (the unix port behind a pipe;
# on the board, USB CDC). Run: micropython -m firmware.stdio_link DEVICE_ID
#
# The unix port's blocking read waits for a full buffer, so bytes are taken
# one at a time while poll() says more are ready.
import select
import sys

from firmware.identity import identify_handler
from firmware.link import LinkServer
from firmware.main import read_link
from protocol import wire as c


def serve(device_id, fw_hash=b"\x00" * 8):
    out = sys.stdout.buffer

    def write(data):
        out.write(data)
        if hasattr(out, "flush"):
            out.flush()

    server = LinkServer(write, {c.MSG_IDENTIFY: identify_handler(device_id, fw_hash)})
    inp = sys.stdin.buffer
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    one = bytearray(1)
    chunk = bytearray(256)
    while True:
        n = read_link(poll, inp, one, chunk, 1000)
        if n < 0:
            return server  # EOF: the host closed the link
        if n:
            server.feed(bytes(chunk[:n]))


if __name__ == "__main__":
    dev = sys.argv[1] if len(sys.argv) > 1 else "POD00000"
    serve((dev.encode() + b"\x00" * 16)[:16])
