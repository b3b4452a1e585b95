"""The forecast panel under `podctl monitor`'s status table: what a
podctl.monitor_forecast.LiveForecast holds, as a rich renderable (it
prints nothing; the monitor's Live shows it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.text import Text

from podctl.forecast_cmd import hours_table
from podctl.monitor_forecast import LiveForecast


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _next(live: LiveForecast) -> str:
    n = live.next_in_s()
    if live.computing or live.pulling is not None or n is None:
        return ""
    return f"   (next in {n / 60:.0f} min)" if n >= 120 else f"   (next in {n:.0f} s)"


def panel(live: LiveForecast, now_utc: float | None = None) -> Group:
    now = time.time() if now_utc is None else now_utc
    parts: list[RenderableType] = []
    f = live.forecast
    if f is None:
        parts.append(Text(f"forecast: none yet{_next(live)}", style="bold"))
    else:
        when = (
            "as of ?" if live.as_of is None else
            f"as of {datetime.fromtimestamp(live.as_of, UTC):%H:%MZ}, {_ago(now - live.as_of)}"
        )
        s = f.start
        parts.append(Text(f"forecast {when}, {f.runs} runs, {f.environment}, "
                          f"{f.horizon_h:g} h horizon{_next(live)}", style="bold"))
        parts.append(hours_table(f))
        parts.append(Text(
            f"from: phase {s.phase_name} for {s.phase_s / 3600:.1f} h, payload "
            f"{s.payload_c:.2f} degC, battery {s.battery_v:.2f} V "
            f"(charge {100 * f.identified.soc:.0f} %), out of band {s.out_s} s of "
            f"{s.allowance_s} s" + (f", alarms {' '.join(s.alarm_names)}" if s.alarm_names
                                    else ""),
            style="dim"))
    if live.pulling is not None:
        done, total = live.pulling
        parts.append(Text(f"pulling the log: {done / 1024:.1f} of {total / 1024:.1f} KiB",
                          style="cyan"))
    elif live.computing:
        about = "" if live.last_s is None else f" (the last took {live.last_s:.0f} s)"
        parts.append(Text(f"computing... {live.elapsed_s():.0f} s, {live.kw['runs']} runs"
                          f"{about}", style="cyan"))
    if live.error is not None:
        parts.append(Text(f"forecast failed: {live.error}", style="bold red"))
    return Group(*parts)
