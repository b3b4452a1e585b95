"""A scenario's [[expect]] list checked against a run's summary.

Each expectation gives (passed, one line saying what was expected and what
happened). Alarm timing is measured from the scenario's first fault (the
event the alarm answers), or from the mission's start when it has none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = tuple[bool, str]


def _hours(s: float | None) -> str:
    return "never" if s is None else f"{s / 3600:.1f} h"


def check(
    sc: dict[str, Any],
    summary: dict[str, Any],
    log: bytes | None = None,
    key: bytes | None = None,
    verify_log: Callable[[bytes, bytes], Check] | None = None,
) -> list[Check]:
    out = []
    first_fault = min((f.get("at_s", f.get("at_h", 0) * 3600) for f in sc["faults"]), default=0)
    alarms = summary["alarms"]
    empty = summary["battery_empty_s"]
    lasted = empty if empty is not None else summary["duration_s"]
    for e in sc["expects"]:
        k = e["kind"]
        if k == "in_band":
            got = summary["in_band_percent"]
            out.append(
                (got >= e["min_percent"], f"in band {got:.2f}% (expected >= {e['min_percent']}%)")
            )
        elif k == "no_excursion":
            exc = [(p["name"], x) for p in summary["phases"] for x in p["excursions"]]
            if exc:
                name, (a, b, peak) = exc[0]
                text = (
                    f"{len(exc)} excursion(s); first in {name} at {_hours(a)}, "
                    f"{(b - a) / 60:.0f} min, peak {peak:.2f} degC"
                )
            else:
                text = "no excursion beyond any phase's delay"
            out.append((not exc, text))
        elif k == "alarm":
            name = e["alarm"]
            at = alarms.get(name)
            ok = at is not None
            text = f"alarm {name} raised at {_hours(at)}"
            if ok and "within_h" in e:
                ok = at - first_fault <= e["within_h"] * 3600
                text += (
                    f", {(at - first_fault) / 3600:.2f} h after the first fault"
                    f" (expected within {e['within_h']} h)"
                )
            if ok and "before_empty_h" in e:
                if empty is not None:
                    ok = empty - at >= e["before_empty_h"] * 3600
                    text += (
                        f", {(empty - at) / 3600:.1f} h before the battery ran out"
                        f" (expected >= {e['before_empty_h']} h)"
                    )
            out.append((ok, text if at is not None else f"alarm {name} never raised (expected)"))
        elif k == "no_alarm":
            name = e["alarm"]
            at = alarms.get(name)
            out.append(
                (
                    at is None,
                    f"alarm {name} "
                    + ("not raised" if at is None else f"raised at {_hours(at)} (expected none)"),
                )
            )
        elif k == "battery_hours":
            h = lasted / 3600
            ok = ("min_h" not in e or h >= e["min_h"]) and ("max_h" not in e or h <= e["max_h"])
            bounds = " and ".join(
                f"{op} {e[key]} h" for key, op in (("min_h", ">="), ("max_h", "<=")) if key in e
            )
            state = "ran out" if empty is not None else "still had charge at the end"
            out.append((ok, f"battery lasted {h:.1f} h, {state} (expected {bounds})"))
        elif k == "battery_empty":
            ok = empty is not None and ("before_h" not in e or empty <= e["before_h"] * 3600)
            want = f" before {e['before_h']} h" if "before_h" in e else ""
            out.append((ok, f"battery empty at {_hours(empty)} (expected{want})"))
        elif k == "probe_fault":
            p = e["probe"]
            got = summary.get("probe_faults", {}).get(str(p))
            ref = min(
                (f.get("at_s", f.get("at_h", 0) * 3600) for f in sc["faults"]
                 if f["kind"].startswith("probe_") and f.get("probe") == p),
                default=first_fault,
            )
            if got is None:
                out.append((False, f"probe {p} never excluded (expected)"))
            else:
                at, kind = got
                ok = "within_h" not in e or at - ref <= e["within_h"] * 3600
                text = (
                    f"probe {p} excluded ({kind}) at {_hours(at)}, "
                    f"{(at - ref) / 3600:.2f} h after its fault"
                )
                if "within_h" in e:
                    text += f" (expected within {e['within_h']} h)"
                out.append((ok, text))
        elif k == "no_probe_fault":
            p = e["probe"]
            got = summary.get("probe_faults", {}).get(str(p))
            if got is None:
                out.append((True, f"probe {p} never excluded"))
            else:
                at, kind = got
                text = f"probe {p} excluded ({kind}) at {_hours(at)} (expected never)"
                out.append((False, text))
        elif k == "log_intact":
            if log is None or key is None or verify_log is None:
                out.append(
                    (False, "log not checked: no log, key or verification (verify_log) given")
                )
            else:
                out.append(verify_log(log, key))
        else:  # the loader only lets the kinds above through
            out.append((False, f"unknown expectation kind {k!r}"))
    return out
