"""A Transport over a child process's stdin/stdout (the firmware's link
server on the micropython binary, without a pseudo-terminal)."""

from __future__ import annotations

import os
import select
import subprocess


def spawn_stdio_device(device_id: str) -> "PipeTransport":
    """Start firmware.stdio_link on the micropython binary; return its link."""
    from sim import upy

    env = dict(os.environ, MICROPYPATH=upy.micropypath())
    proc = subprocess.Popen(
        [upy.binary(), "-m", "firmware.stdio_link", device_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=upy.ROOT,
    )
    return PipeTransport(proc)


class PipeTransport:
    def __init__(self, proc: subprocess.Popen, wait: float = 0.05):
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self._in = proc.stdout.fileno()
        self._out = proc.stdin
        self.wait = wait

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._out.flush()
        return len(data)

    def read(self, size: int) -> bytes:
        ready, _, _ = select.select([self._in], [], [], self.wait)
        if not ready:
            return b""
        data = os.read(self._in, size)
        if not data:
            raise OSError(0, "device closed the link")
        return data

    def close(self) -> None:
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass  # the device already went away
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
