# The main loop: the link between ticks, the tick once a second, the work
# after it, the watchdog fed only after a healthy tick.
#
# On the board, /main.py runs `from firmware.main import main; main()`;
# the link is USB CDC, i.e. sys.stdin/sys.stdout. Ctrl-C is disabled from
# the first line of the board's /main.py (a 0x03 on the line at boot would
# otherwise stop it at the REPL, where the identity file holds the key: issue
# 14, S4) and stays disabled; only MAINTENANCE REPL, an authenticated
# command, restores it and returns to the REPL so mpremote can flash. A
# fault resets the board rather than leave it at the REPL. The unix port
# runs the same loop on a pipe or a pty.
import select
import sys

from firmware.pod import Pod

CHUNK = 256


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
    bytes are taken one at a time while poll says more are ready."""
    n = 0
    while n < len(chunk) and poll.poll(0 if n else wait_ms):
        if not inp.readinto(one):
            return n or -1  # the bytes before the end first
        chunk[n] = one[0]
        n += 1
    return n


def serve(pod, inp, out, pollable=None, poll_ms=1000):
    """Run pod on the byte streams inp/out until MAINTENANCE REPL or EOF.
    pollable: what select.poll watches for inp (sys.stdin for its buffer).
    Returns "repl", "reboot" or "eof"."""
    hal = pod.hal

    def write(data):
        out.write(data)
        if hasattr(out, "flush"):
            out.flush()

    pod.out = write
    poll = select.poll()
    poll.register(pollable if pollable is not None else inp, select.POLLIN)
    one = bytearray(1)
    chunk = bytearray(CHUNK)
    _kbd_intr(-1)  # again: the board's /main.py did it first of all (S4)
    while True:
        # the link until the next tick is due; never longer
        wait = 1000 - pod._ms_acc - ((hal.uptime_ms() - pod._last_ms) & 0x3FFFFFFF)
        wait = max(0, min(wait, poll_ms))
        n = read_link(poll, inp, one, chunk, wait)
        if n < 0:
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
        if why == "repl":
            _kbd_intr(3)  # MAINTENANCE REPL, authenticated: mpremote needs Ctrl-C
        if why:
            return why


def main(hal=None, fw_hash=None):
    """Board entry point. Whatever ends it but MAINTENANCE REPL (a fault
    while the HAL or the pod starts, a fault in the loop, the end of the USB
    input) resets the board: it never stops at its REPL, where its key file
    can be read (issue 14, S4)."""
    pod = None
    why = "reboot"
    try:
        if hal is None:
            from firmware.hal.rp2 import Rp2Hal

            hal = Rp2Hal()
        pod = Pod(hal, fw_hash).boot()
        why = serve(pod, sys.stdin.buffer, sys.stdout.buffer, sys.stdin)
    except BaseException:  # nothing may leave the board at its REPL
        why = "reboot"
    if why != "repl":
        import machine

        machine.reset()
    return pod
