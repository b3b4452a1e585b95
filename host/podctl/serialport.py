"""Finding and opening the container's serial port.

--port P (a pyserial URL: /dev/ttyACM0, socket://host:port, rfc2217://...,
or the virtual board's pty), else the PODCTL_PORT environment variable, else
the single attached board found by its USB id. Errors say which of these
went wrong and what to do.
"""

from __future__ import annotations

import os

from podctl.errors import LinkError

# pyserial is imported when a port is opened or searched for, not with
# podctl: a script that only reads pulled logs never loads it.

# Raspberry Pi (RP2040) USB vendor id; MicroPython's CDC product ids
USB_VID = 0x2E8A
USB_PIDS = (0x0005, 0x000A)


def comports() -> list:
    """The serial ports the system lists (pyserial's ListPortInfo)."""
    from serial.tools import list_ports

    return list(list_ports.comports())


def resolve(port: str | None) -> str:
    if port:
        return port
    env = os.environ.get("PODCTL_PORT")
    if env:
        return env
    found = [
        p.device
        for p in comports()
        if p.vid == USB_VID and (p.pid in USB_PIDS or p.pid is None)
    ]
    if not found:
        raise LinkError(
            "no container found: plug one in by USB, or give --port (or PODCTL_PORT), "
            "e.g. the path `podctl board` prints"
        )
    if len(found) > 1:
        raise LinkError(
            f"several containers attached ({', '.join(found)}): choose one with --port"
        )
    return found[0]


class SerialTransport:
    """A Link transport over pyserial."""

    def __init__(self, url: str, wait: float = 0.05):
        import serial

        self._error = serial.SerialException
        self.url = url
        try:
            self.port = serial.serial_for_url(url, baudrate=115200, timeout=wait, exclusive=True)
        except serial.SerialException as e:
            text = str(e)
            # pyserial's words for a port someone else holds (EBUSY, or its
            # exclusive flock failing), not anything in the path
            if "exclusively lock port" in text or "[Errno 16]" in text:
                raise LinkError(
                    f"{url}: port busy (another podctl, mpremote or a terminal has it open)"
                ) from None
            raise LinkError(f"{url}: cannot open the port: {text}") from None
        except ValueError as e:
            raise LinkError(f"{url}: not a usable port: {e}") from None
        except OSError as e:  # e.g. a socket:// host that does not resolve
            raise LinkError(f"{url}: cannot open the port: {e.strerror or e}") from None

    def write(self, data: bytes) -> int:
        try:
            n = self.port.write(data)
            self.port.flush()
            return n or 0
        except self._error as e:
            raise OSError(5, str(e)) from None

    def read(self, size: int) -> bytes:
        try:
            waiting = self.port.in_waiting
            return self.port.read(max(1, min(size, waiting)) if waiting else 1) + (
                self.port.read(self.port.in_waiting) if self.port.in_waiting else b""
            )
        except self._error as e:
            raise OSError(5, str(e)) from None
        except OSError as e:
            raise OSError(e.errno or 5, "device unplugged") from None

    def close(self) -> None:
        try:
            self.port.close()
        except (OSError, self._error):
            pass
