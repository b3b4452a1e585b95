# The main loop: the link between ticks, the tick once a second, the work
# after it, the watchdog fed only after a healthy tick.
#
# On the board, /main.py runs `from firmware.main import main; main()`;
# the link is USB CDC, i.e. sys.stdin/sys.stdout. Ctrl-C is disabled from
# the first line of the board's /main.py (a 0x03 on the line at boot would
# otherwise stop it at the REPL, where the identity file holds the key: issue
# 14, S4) and stays disabled, except in the maintenance boot below. A fault
# resets the board rather than leave it at the REPL. The unix port runs the
# same loop on a pipe or a pty.
#
# Resets (issue 16). On rp2, machine.reset() is a watchdog reboot, and a
# started watchdog cannot be stopped: so the firmware records why it resets
# before it does (MAINTENANCE REBOOT and REPL; a fault records nothing and
# stays a watchdog reset), and MAINTENANCE REPL resets into a maintenance
# boot that never makes the HAL, so never starts the watchdog, and holds
# the outputs off. firmware/maintenance.py says how.
import select
import sys

from firmware.pod import Pod

CHUNK = 256
# A reply is written in pieces of at most 64 bytes, each only when the
# output polls writable and at least 510 ms remain before the tick is due:
# rp2's USB CDC write waits up to 500 ms (MICROPY_HW_USB_CDC_TX_TIMEOUT) for
# room in its 256-byte FIFO when the host holds the port open and does not
# read, and writable only means one byte of room. So no write can delay a
# tick (issue 16); a reply that cannot go now goes after the tick, and no
# new request is read until it has gone (its bytes are the link's one reply
# buffer). One the host has not taken in 5 s is dropped: the host resends.
# (The numbers are written where they are used: a name here, or const's
# import, is a global in the module's dict, heap the board has not.)


def _kbd_intr(c):
    try:
        import micropython

        micropython.kbd_intr(c)
    except (ImportError, AttributeError):
        pass  # CPython


def read_link(poll, inp, one, chunk, wait_ms):
    """Bytes from the host into chunk, waiting at most wait_ms for the
    first: their count, or -1 at end of input (the bytes before it are
    taken first). The unix port's blocking read waits for a full buffer, so
    bytes are taken one at a time while poll says more are ready. A frame's
    end (0x00) ends the read: a feed then holds one frame at most, so makes
    one reply at most (serve writes it before reading on)."""
    n = 0
    while n < len(chunk) and poll.poll(0 if n else wait_ms):
        if not inp.readinto(one):
            return n or -1  # the bytes before the end first
        chunk[n] = one[0]
        n += 1
        if not one[0]:
            break
    return n


def serve(pod, inp, out, pollable=None, poll_ms=1000):
    """Run pod on the byte streams inp/out until MAINTENANCE REPL or EOF.
    pollable: what select.poll watches for inp (sys.stdin for its buffer;
    sys.stdout is then watched for out, else out itself). Returns "repl",
    "reboot" or "eof". (Every name here is a qstr on the board, whose pools
    have few to spare: tests/test_firmware_heap.py.)"""
    hal = pod.hal
    # the reply being written (a view of the link's reply buffer), how much
    # of it has gone, and when it was made
    reply = [None, 0, 0]

    def write(data):
        reply[0] = data
        reply[1] = 0
        reply[2] = hal.uptime_ms()

    def send(end):
        # pieces of the reply while they cannot hold up the tick (above);
        # end: all of it, waiting as long as it takes (the loop is ending)
        data = reply[0]
        while reply[1] < len(data) and (end or timeout() >= 510 and ready.poll(0)):
            piece = data[reply[1] : reply[1] + 64]
            n = out.write(piece)
            if n is None:  # a non-blocking stream with no room after all
                break
            reply[1] += n if isinstance(n, int) else len(piece)
        if hasattr(out, "flush"):
            out.flush()
        if reply[1] >= len(data) or (hal.uptime_ms() - reply[2]) & 0x3FFFFFFF > 5000:
            reply[0] = None

    def timeout():  # ms until the tick is due
        return 1000 - pod._ms_acc - ((hal.uptime_ms() - pod._last_ms) & 0x3FFFFFFF)

    pod.out = write
    poll = select.poll()
    poll.register(pollable if pollable is not None else inp, select.POLLIN)
    ready = select.poll()
    ready.register(out if pollable is None else sys.stdout, select.POLLOUT)
    idle = select.poll()  # watches nothing: a wait that nothing cuts short
    one = bytearray(1)
    chunk = bytearray(CHUNK)
    _kbd_intr(-1)  # again: the board's /main.py did it first of all (S4)
    while True:
        # the link until the next tick is due; never longer
        wait = max(0, min(timeout(), poll_ms))
        if reply[0] is not None:
            send(False)
            t = timeout()
            if reply[0] is not None and t < 510:
                idle.poll(max(0, min(t, poll_ms)))  # the rest after the tick
            elif reply[0] is not None:  # the host is slow: wait for room, not past the hold
                ready.poll(min(t - 510, poll_ms))
            n = 0
        else:
            n = read_link(poll, inp, one, chunk, wait)
        if n < 0:
            if reply[0] is not None:
                send(True)
            pod.recorder.flush(force=True)
            return "eof"
        if n:
            try:
                pod.link.feed(bytes(chunk[:n]))
            except Exception as e:
                # no request ends the loop (issue 15, F8): a handler's fault
                # is answered by the link itself; this is one outside them
                # (no room for a frame, a fault making the reply), logged
                # as a refusal of type 0 if the log can take it. (Imported
                # here: a global would grow the module's dict on the heap.)
                from protocol import wire

                # (hmac 1, not None: a fault is logged one by one, SPEC 4.6)
                code = wire.ERR_STORAGE if isinstance(e, OSError) else wire.ERR_BUSY
                pod._refused(0, code, 0, 1)
        if pod.tick():
            pod.service()
            hal.feed_watchdog()
        why = pod.maintenance_due()
        if why and reply[0] is not None:
            send(True)  # the command's answer, whole, before the loop ends
        if why:
            return why  # Ctrl-C stays off: main() resets, into the maintenance boot for "repl"


def main(hal=None, fw_hash=None):
    """Board entry point. Every way it ends resets the board but the
    maintenance boot (returns None at the REPL): a fault while the HAL or
    the pod starts, a fault in the loop, the end of the USB input,
    MAINTENANCE REBOOT and MAINTENANCE REPL. It never stops at its REPL with
    the firmware started, where its key file can be read (issue 14, S4)."""
    pod = None
    why = None  # a fault, or the end of the input: no intent recorded
    try:
        if hal is None:
            from firmware import maintenance

            # decided before the HAL is made: its constructor starts the watchdog
            if maintenance.boot():
                return None
            from firmware.hal.rp2 import Rp2Hal

            hal = Rp2Hal()
        pod = Pod(hal, fw_hash).boot()
        why = serve(pod, sys.stdin.buffer, sys.stdout.buffer, sys.stdin)
    except BaseException:  # nothing may leave the board at its REPL
        why = None
    from firmware import maintenance

    maintenance.reset(pod, why)
    return pod
