"""The live forecast of `podctl monitor --forecast` (issue 18), as a library.

    live = LiveForecast("build/live", environment="recovery", runs=20, every_s=1800)
    # in the monitor's loop, on the one thread that owns the Device:
    if live.due():
        live.refresh(dev, between=poll)  # pull what is new, then start the forecast
    live.poll()                          # never blocks: takes the worker's answer if any
    live.forecast, live.as_of, live.error, live.computing, ...  # what to show

Why it is shaped so. One serial port, one Device: the pull runs on the
monitor's own thread, and Device.pull's progress callback (called after each
LOG_READ frame, when the link is idle) is where `between` lets the monitor
poll STATUS when a poll is due, so the status never stops for a pull. The
forecast itself (30-40 s at 20 runs, podctl.forecast) flies in a spawned
process (which runs its own pool of runs), so the monitor's loop only looks
at a queue.

What a refresh costs: the device seals its open block (LOG_SEAL writes what
it holds in RAM as a block, so a refresh adds at most one partly filled block
to the log, flash and log bytes both), and the link carries only the bytes
logged since the last pull: the last pull's log.bin is handed to Device.pull
as the start of an interrupted pull (its log.bin.part and pull.json), which
Device.pull resumes if the log's first block is still the same, and checks
whole against the device's seal as any pull (bytes that do not match start a
whole pull again, and so does a kept log.bin whose SHA-256 is not its
manifest's). `pulls` keeps each refresh's figures (PullStats).

Nothing here prints or exits; failures are kept as one line in `error`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podctl.device import LOG_NAME, Device, PullStats, resume_from
from podctl.errors import CheckFailed, LinkError, PodctlError
from podctl.pulled import manifest_beside, read_manifest

if TYPE_CHECKING:  # the forecast's imports (numpy, the simulator) load in the worker
    from podctl.forecast import Forecast

DEFAULT_EVERY_MIN = 30.0  # a forecast moves slowly: hours of margin, 30-40 s to compute
STOP_S = 5.0  # close() waits this long for the worker to go
RETRY_S = 300.0  # a pull that failed for a reason other than the link is tried again after


class LiveForecast:
    """A forecast kept fresh from a live board: pulled into `folder`, made
    every `every_s` seconds (or at once after request()). The forecast's
    keywords are podctl.forecast.forecast's."""

    def __init__(self, folder: str | Path, *, every_s: float = DEFAULT_EVERY_MIN * 60,
                 environment: str = "recovery", runs: int = 20, horizon_h: float = 240.0,
                 tick_s: int = 10, seed: int = 1, workers: int | None = None,
                 pack: str | None = None, cells: int | None = None,
                 capacity_wh: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.folder = Path(folder)
        self.every_s = every_s
        self.kw: dict[str, Any] = dict(environment=environment, runs=runs, horizon_h=horizon_h,
                                       tick_s=tick_s, seed=seed, workers=workers,
                                       pack=pack, cells=cells, capacity_wh=capacity_wh)
        self.clock = clock
        self.forecast: Forecast | None = None  # the last one made: shown until the next
        self.as_of: float | None = None  # host UTC of the pull the forecast started from
        self.error: str | None = None  # the last refresh's failure, one line
        self.pulling: tuple[int, int] | None = None  # bytes done, total while pulling
        self.pulls: list[PullStats] = []  # each refresh's pull
        self.made = 0  # forecasts made
        self.failed = 0  # refreshes that ended in an error
        self.last_s: float | None = None  # how long the last forecast took
        self.started: float | None = None  # clock() when the running one began
        self._pulled_utc: float | None = None  # as_of of the running one
        self._next: float | None = None  # clock() of the next refresh; None: at once
        self._proc: Any = None
        self._answers: Any = None

    # -- when

    @property
    def computing(self) -> bool:
        return self._proc is not None

    def due(self) -> bool:
        """Idle and the interval has passed (or a refresh was asked for)."""
        return not self.computing and (self._next is None or self.clock() >= self._next)

    def request(self) -> None:
        """Refresh at the next due() (a key, a signal)."""
        self._next = None

    def next_in_s(self) -> float | None:
        """Seconds to the next refresh (None: at the next chance)."""
        return None if self._next is None else max(0.0, self._next - self.clock())

    def elapsed_s(self) -> float:
        return 0.0 if self.started is None else self.clock() - self.started

    # -- the work

    def refresh(self, dev: Device, between: Callable[[], object] | None = None) -> bool:
        """pull(), then start() the forecast in its worker. False when the
        pull failed for a reason other than the link (kept in error, tried
        again after RETRY_S or the interval, whichever is sooner); a
        LinkError is kept in error too, and raised: the link is the
        monitor's to reopen, and the refresh is due again at once."""
        self._next = self.clock() + self.every_s
        try:
            self.pull(dev, between)
        except LinkError as e:
            self._fail(str(e))
            self._next = None  # again once the link is back: it resumes where it stopped
            raise
        except PodctlError as e:
            # refused (a STALE challenge on a busy host), a transfer that did
            # not match: most pass; sooner than the interval, not at once
            # (each try may cost the device a seal)
            self._fail(str(e))
            self._next = self.clock() + min(self.every_s, RETRY_S)
            return False
        self.error = None  # this refresh got past what failed the last one
        self.start()
        return True

    def pull(self, dev: Device, between: Callable[[], object] | None = None) -> PullStats:
        """The board's log into the folder, only what is new since the last
        pull there; between() is called after each frame (the link is free
        then). Device.pull's errors."""
        def progress(done: int, total: int) -> None:
            self.pulling = (done, total)
            if between is not None:
                between()

        try:
            resumed = self._offer_last_pull(dev)
            try:
                dev.pull(self.folder, progress)
            except CheckFailed:
                if not resumed:
                    raise
                # the old bytes are not the start of the device's log now
                # (Device.pull removed them): the whole log, once
                dev.pull(self.folder, progress)
        finally:
            self.pulling = None
        assert dev.last_pull is not None
        self.pulls.append(dev.last_pull)
        self._pulled_utc = _pulled_at(dev.last_pull.log_path)
        return dev.last_pull

    def start(self) -> None:
        """The forecast of the folder as the last pull left it, in a
        spawned worker process; poll() takes its answer."""
        # spawn, not fork: the monitor holds the serial port and rich's threads
        ctx = multiprocessing.get_context("spawn")
        self._answers = ctx.Queue()
        self._proc = ctx.Process(target=work, args=(str(self.folder), self.kw, self._answers),
                                 name="podctl-forecast", daemon=False)  # it has its own pool
        self.started = self.clock()
        self._proc.start()

    def poll(self) -> bool:
        """Take the worker's answer if it has come (never blocks); True
        when a forecast ended (made or failed)."""
        if self._proc is None:
            return False
        try:
            kind, got = self._answers.get_nowait()
        except queue.Empty:
            if self._proc.is_alive():
                return False
            try:  # it may have answered and ended since the look above
                kind, got = self._answers.get(timeout=1.0)
            except queue.Empty:  # gone without a word: killed, or out of memory
                kind = "failed"
                got = f"the forecast's worker process died (exit {self._proc.exitcode})"
        self._proc.join(5)
        self._proc = self._answers = None
        self.last_s = self.elapsed_s()
        self.started = None
        if kind == "made":
            self.forecast, self.as_of, self.error = got, self._pulled_utc, None
            self.made += 1
        else:
            self._fail(got)
        return True

    def close(self) -> None:
        """Stop a forecast still flying (the monitor is leaving): its runs'
        processes are ended (SIGTERM to the worker's process group, which the
        worker itself ignores, see work()), so the worker's pool fails and
        shuts down as a pool should, its semaphores released; a worker still
        there after STOP_S is killed."""
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
            except OSError:  # not yet its own group leader
                self._proc.terminate()
            self._proc.join(STOP_S)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(STOP_S)
            self._proc = self._answers = None
            self.started = None

    def _fail(self, message: str) -> None:
        self.error = message.splitlines()[0] if message else "failed"
        self.failed += 1

    def _offer_last_pull(self, dev: Device) -> bool:
        """Hand the last pull's log.bin to Device.pull as an interrupted pull
        of the same log (podctl.device.resume_from), so it reads only
        the bytes since. True if offered."""
        log = self.folder / LOG_NAME
        if (self.folder / "pull.json").exists() or not log.is_file():
            return False  # an interrupted pull of its own, or nothing to build on
        try:
            m = read_manifest(manifest_beside(log))
        except PodctlError:
            return False  # no manifest to say whose log it is: pull it whole
        raw = log.read_bytes()
        # Device.pull would keep the copy's bytes as they are and check only
        # where they end: a copy damaged on this disk is pulled whole again
        if m.device_id != dev.device_id or hashlib.sha256(raw).hexdigest() != m.log.sha256:
            return False
        resume_from(self.folder, m.device_id, m.log.first_seq, raw)
        return True


def work(folder: str, kw: dict[str, Any], answers: Any) -> None:
    """The worker process: ("made", Forecast) or ("failed", one line). It
    leads a process group of its own, with the pool it starts: a Ctrl-C at
    the monitor's terminal is the monitor's to handle (no traceback from
    here). A SIGTERM to the group (close()) ends the pool's processes, whose
    handler is the default again after exec, while this one passes it by and
    lets its pool fail and clean up."""
    os.setpgrp()
    signal.signal(signal.SIGTERM, lambda *_: None)
    from podctl.forecast import forecast

    try:
        answers.put(("made", forecast(folder, **kw)))
    except PodctlError as e:
        answers.put(("failed", str(e)))
    except Exception as e:  # noqa: BLE001 - a bug in a forecast must not end the monitor
        answers.put(("failed", f"{type(e).__name__}: {e} (a fault in podctl: report it)"))


def _pulled_at(log_path: Path) -> float | None:
    """The host's UTC at the pull (the manifest's anchor): when the state
    the forecast starts from was the board's."""
    try:
        a = read_manifest(manifest_beside(log_path)).anchor
    except PodctlError:
        return None
    return None if a is None else a.utc
