"""Mission scenarios: sim/scenarios/NAME.toml, loaded and validated.

``load(name_or_path)`` returns a plain dict whose parts feed the simulator
directly::

    sc = load("nominal")
    Plant(sc["container"]); Battery(sc["power"]); Sensors(sc["sensors"], rng)
    Timeline(sc["phases"]); FaultSchedule(sc["faults"]); sc["expects"]

Every field is checked (type, range, unknown keys) and defaults are filled
in, so the simulator modules can trust what they get. A problem raises
``ScenarioError("FILE: FIELD: reason")`` -- one line naming the file and the
field, e.g. ``sim/scenarios/nominal.toml: container.wall_conductance_w_per_k:
must be a positive number``.

A [disposition] table (the reviewer's verdict on the scenario's report) is
checked and then left out of what load() returns; disposition() reads it.

CPython only (tomllib). The layout is documented in sim/scenarios/README.md.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Callable

from protocol import names
from sim import environment, faults

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
NODES = ("payload", "air")
PACKS = ("li-ion", "lifepo4")
# the device's alarm names, as protocol/names.py has them (issue 17 added
# actuator and hold): an expectation naming another is refused at load
ALARMS = tuple(n for _, n in names.ALARMS)
EXPECT_KINDS = (
    "in_band",
    "no_excursion",
    "alarm",
    "no_alarm",
    "battery_hours",
    "battery_empty",
    "probe_fault",
    "no_probe_fault",
    "log_intact",
)
WINDOWED_FAULTS = ("probe_noise", "lid_open", "brownout", "link_loss")
# PCM and Peltier are coupled explicitly in sim/plant.py: C/G of the PCM
# must be many steps long for that to be stable and accurate.
PCM_MIN_STEPS = 20


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line."""


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def resolve(name_or_path: str | Path) -> Path:
    """A scenario name (sim/scenarios/NAME.toml) or a path to a .toml file."""
    return resolve_in(SCENARIO_DIR, name_or_path, "scenario", ScenarioError)


def resolve_in(folder: Path, name_or_path: str | Path, what: str,
               error: type[ValueError]) -> Path:
    """A NAME of folder/NAME.toml or a path to a .toml file (scenarios,
    dispersions); error(one line) when there is none."""
    s = str(name_or_path)
    if s.endswith(".toml") or "/" in s or "\\" in s:
        p = Path(s)
        if not p.is_file():
            raise error(f"{s}: no such {what} file")
        return p
    p = folder / f"{s}.toml"
    if not p.is_file():
        known = ", ".join(sorted(q.stem for q in folder.glob("*.toml"))) or "(none)"
        raise error(f"unknown {what} {s!r}; known: {known}")
    return p


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- field checkers: each returns the cleaned value or raises _Bad ---------


class _Bad(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


Check = Callable[[Any], Any]
Fields = dict[str, tuple[Check, Any]]


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def num(v: Any) -> float:
    if not _is_num(v):
        raise ValueError("must be a number")
    return float(v)


def pos(v: Any) -> float:
    if not _is_num(v) or v <= 0:
        raise ValueError("must be a positive number")
    return float(v)


def nonneg(v: Any) -> float:
    if not _is_num(v) or v < 0:
        raise ValueError("must be a number >= 0")
    return float(v)


def frac(v: Any) -> float:
    if not _is_num(v) or not 0 <= v <= 1:
        raise ValueError("must be a number from 0 to 1")
    return float(v)


def percent(v: Any) -> float:
    if not _is_num(v) or not 0 <= v <= 100:
        raise ValueError("must be a number from 0 to 100")
    return float(v)


def integer(lo: int, hi: int) -> Check:
    def check(v: Any) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(f"must be an integer from {lo} to {hi}")
        return v

    return check


def flag(v: Any) -> bool:
    # TOML's own true/false only: a 1 or "yes" is a typo, not a setting
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("must be a non-empty string")
    return v


def choice(*options: str) -> Check:
    def check(v: Any) -> str:
        if v not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return str(v)

    return check


_REQUIRED = object()


def _table(where: str, data: Any, fields: Fields) -> dict[str, Any]:
    """Check a TOML table against {key: (check, default or _REQUIRED)};
    a default of None leaves an absent key out."""
    if not isinstance(data, dict):
        raise _Bad(where, "must be a table")
    for key in data:
        if key not in fields:
            raise _Bad(_join(where, key), "unknown field")
    out: dict[str, Any] = {}
    for key, (check, default) in fields.items():
        name = _join(where, key)
        if key not in data:
            if default is _REQUIRED:
                raise _Bad(name, "missing")
            if default is not None:
                out[key] = default
            continue
        try:
            out[key] = check(data[key])
        except ValueError as e:
            raise _Bad(name, str(e)) from None
    return out


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _array(where: str, data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise _Bad(where, "must be an array of tables ([[...]])")
    return data


# -- the layout --------------------------------------------------------------

TOP: Fields = {
    "base": (text, None),
    "name": (text, _REQUIRED),
    "description": (text, _REQUIRED),
    "profile": (text, _REQUIRED),
    "seed": (integer(0, 2**64 - 1), 1),
    "tick_s": (integer(1, 3600), 1),
    # UTC (Unix seconds) the ground crew sets on the board before launch
    "start_utc": (integer(0, 2**32 - 1), 1803859200),  # 2027-03-01T00:00:00Z
    # the crew's `podctl time sync` at hand-over, before the pull seals the
    # log (sim/cosim.py): false flies a crew that forgets it, or a pull by
    # another tool, and leaves a boot that lost its clock without UTC
    "handover_sync": (flag, True),
}
CONTAINER: Fields = {
    "initial_c": (num, _REQUIRED),
    "payload_heat_capacity_j_per_k": (pos, _REQUIRED),
    "air_heat_capacity_j_per_k": (pos, _REQUIRED),
    "wall_heat_capacity_j_per_k": (pos, _REQUIRED),
    "payload_air_conductance_w_per_k": (pos, _REQUIRED),
    "air_wall_conductance_w_per_k": (pos, _REQUIRED),
    "wall_conductance_w_per_k": (pos, _REQUIRED),
    "lid_open_conductance_w_per_k": (nonneg, 2.0),
    "heater_max_w": (nonneg, _REQUIRED),
    "electronics_w": (nonneg, 0.0),
}
PELTIER: Fields = {
    "qmax_w": (nonneg, _REQUIRED),
    "dtmax_k": (pos, _REQUIRED),
    "cop0": (pos, _REQUIRED),
    "cop0_full": (pos, None),
    "sink_k_per_w": (nonneg, 0.0),
    "leak_w_per_k": (nonneg, 0.0),
    "wall_fraction": (frac, 0.0),
}
PCM: Fields = {
    "heat_capacity_j_per_k": (pos, _REQUIRED),
    "latent_j": (nonneg, _REQUIRED),
    "melt_c": (num, _REQUIRED),
    "melt_range_k": (pos, 1.0),
    "conductance_w_per_k": (pos, _REQUIRED),
    "initial_c": (num, None),
}
POWER: Fields = {
    "pack": (choice(*PACKS), "li-ion"),
    "cells_series": (integer(1, 8), 3),
    "capacity_wh": (pos, _REQUIRED),
    "internal_resistance_ohm": (nonneg, 0.05),
    "base_load_w": (nonneg, _REQUIRED),
    "cutoff_mv": (integer(0, 32767), 0),
    "initial_soc": (frac, 1.0),
}
SENSORS: Fields = {
    "humidity_noise_permille": (nonneg, 0.0),
    "pressure_noise_dhpa": (nonneg, 0.0),
}
PROBE: Fields = {
    "node": (choice(*NODES), "payload"),
    "offset_mdegc": (num, 0.0),
    "noise_mdegc": (nonneg, 0.0),
    "lag_s": (nonneg, 0.0),
    "quant_mdegc": (integer(1, 10000), 10),
}
PHASE_COMMON: Fields = {
    "name": (text, _REQUIRED),
    "duration_h": (pos, None),
    "duration_s": (pos, None),
    "ambient": (choice(*environment.AMBIENT_MODELS), "constant"),
    "pressure_hpa": (nonneg, 1013.25),
    "humidity_percent": (percent, 40.0),
    "accel_g": (nonneg, 1.0),
    "vibration_g": (nonneg, 0.0),
    "shock_g": (nonneg, 0.0),
    "lid": (choice("closed", "open"), "closed"),
}
PHASE_MODEL: dict[str, Fields] = {
    "constant": {"ambient_c": (num, _REQUIRED), "heat_w": (nonneg, 0.0)},
    "ramp": {"from_c": (num, _REQUIRED), "to_c": (num, _REQUIRED), "heat_w": (nonneg, 0.0)},
    "orbit": {
        "period_min": (pos, 90.0),
        "sunlit_min": (pos, 55.0),
        "sunlit_c": (num, _REQUIRED),
        "eclipse_c": (num, _REQUIRED),
        "sunlit_heat_w": (nonneg, 0.0),
        "eclipse_heat_w": (nonneg, 0.0),
    },
    "diurnal": {
        "min_c": (num, _REQUIRED),
        "max_c": (num, _REQUIRED),
        "start_hour": (integer(0, 23), 12),
        "solar_heat_w": (nonneg, 0.0),
    },
}
FAULT_COMMON: Fields = {
    "kind": (choice(*faults.KINDS), _REQUIRED),
    "at_h": (nonneg, None),
    "at_s": (nonneg, None),
}
FAULT_PARAMS: dict[str, dict[str, tuple[Check, Any]]] = {
    "probe_drift": {"rate_mdegc_per_h": (num, _REQUIRED)},
    "probe_noise": {"sigma_mdegc": (pos, _REQUIRED)},
    "reset": {"cause": (choice(*faults.RESET_CAUSES), "watchdog")},
}
EXPECT_FIELDS: dict[str, dict[str, tuple[Check, Any]]] = {
    "in_band": {"min_percent": (percent, _REQUIRED)},
    "no_excursion": {},
    "alarm": {
        "alarm": (choice(*ALARMS), _REQUIRED),
        "within_h": (pos, None),
        "before_empty_h": (pos, None),
    },
    "no_alarm": {"alarm": (choice(*ALARMS), _REQUIRED)},
    "battery_hours": {"min_h": (pos, None), "max_h": (pos, None)},
    "battery_empty": {"before_h": (pos, None)},
    "probe_fault": {"probe": (integer(0, 3), _REQUIRED), "within_h": (pos, None)},
    "no_probe_fault": {"probe": (integer(0, 3), _REQUIRED)},
    "log_intact": {},
}


# The disposition a QA reviewer gives the scenario's batch from its report
# alone (issue 17): tests/test_report_dispositions.py holds the report's
# product verdict to it. The run never reads it, so load() leaves it out of
# the scenario it returns (a campaign's identity, a leg, the board's run
# config are the same with or without it); disposition() reads it.
DISPOSITIONS = ("release", "review", "reject")


def one_line(v: Any) -> str:
    v = text(v)
    if "\n" in v or "\r" in v:
        raise ValueError("must be one line of text")
    return v


DISPOSITION: Fields = {
    "verdict": (choice(*DISPOSITIONS), _REQUIRED),
    "why": (one_line, _REQUIRED),
}


def _one_of(where: str, d: dict[str, Any], a: str, b: str, required: bool = True) -> None:
    if a in d and b in d:
        raise _Bad(where, f"give {a} or {b}, not both")
    if required and a not in d and b not in d:
        raise _Bad(_join(where, a), "missing (or give " + b + ")")


def _container(data: Any, tick_s: int) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Bad("container", "must be a table")
    flat = {k: v for k, v in data.items() if k not in ("peltier", "pcm")}
    out = _table("container", flat, CONTAINER)
    if "peltier" not in data:
        raise _Bad("container.peltier", "missing")
    out["peltier"] = _table("container.peltier", data["peltier"], PELTIER)
    if "pcm" in data:
        pcm = _table("container.pcm", data["pcm"], PCM)
        if pcm["heat_capacity_j_per_k"] / pcm["conductance_w_per_k"] < PCM_MIN_STEPS * tick_s:
            raise _Bad(
                "container.pcm.conductance_w_per_k",
                f"heat_capacity / conductance must be at least {PCM_MIN_STEPS} ticks "
                "(the PCM is coupled explicitly)",
            )
        out["pcm"] = pcm
    return out


def _sensors(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Bad("sensors", "must be a table")
    flat = {k: v for k, v in data.items() if k != "probe"}
    out = _table("sensors", flat, SENSORS)
    probes = _array("sensors.probe", data.get("probe", []))
    if len(probes) != 4:
        raise _Bad("sensors.probe", f"must list 4 probes ([[sensors.probe]]), found {len(probes)}")
    out["probe"] = [_table(f"sensors.probe[{i}]", p, PROBE) for i, p in enumerate(probes)]
    return out


def _phase(i: int, data: Any) -> dict[str, Any]:
    where = f"phase[{i}]"
    if not isinstance(data, dict):
        raise _Bad(where, "must be a table")
    model = data.get("ambient", "constant")
    if model not in PHASE_MODEL:
        raise _Bad(f"{where}.ambient", "must be one of " + ", ".join(PHASE_MODEL))
    out = _table(where, data, {**PHASE_COMMON, **PHASE_MODEL[model]})
    _one_of(where, out, "duration_h", "duration_s")
    if model == "orbit" and out["sunlit_min"] > out["period_min"]:
        raise _Bad(f"{where}.sunlit_min", "must not exceed period_min")
    if model == "diurnal" and out["min_c"] > out["max_c"]:
        raise _Bad(f"{where}.min_c", "must not exceed max_c")
    return out


def _fault(i: int, data: Any, mission_s: float) -> dict[str, Any]:
    where = f"fault[{i}]"
    if not isinstance(data, dict):
        raise _Bad(where, "must be a table")
    kind = data.get("kind")
    if kind not in faults.KINDS:
        raise _Bad(f"{where}.kind", "must be one of " + ", ".join(faults.KINDS))
    fields: Fields = {**FAULT_COMMON, **FAULT_PARAMS.get(kind, {})}
    if kind in faults.PROBE_KINDS:
        fields["probe"] = (integer(0, 3), _REQUIRED)
    if kind in WINDOWED_FAULTS:
        fields["duration_h"] = (pos, None)
        fields["duration_s"] = (pos, None)
    out = _table(where, data, fields)
    _one_of(where, out, "at_h", "at_s")
    if kind in WINDOWED_FAULTS:
        _one_of(where, out, "duration_h", "duration_s")
    at_s = out["at_s"] if "at_s" in out else out["at_h"] * 3600
    if at_s >= mission_s:
        raise _Bad(
            f"{where}.at_h" if "at_h" in out else f"{where}.at_s", "after the last phase ends"
        )
    return out


def _expect(i: int, data: Any) -> dict[str, Any]:
    where = f"expect[{i}]"
    if not isinstance(data, dict):
        raise _Bad(where, "must be a table")
    kind = data.get("kind")
    if kind not in EXPECT_FIELDS:
        raise _Bad(f"{where}.kind", "must be one of " + ", ".join(EXPECT_KINDS))
    out = _table(where, data, {"kind": (text, _REQUIRED), **EXPECT_FIELDS[kind]})
    if kind == "alarm":
        _one_of(where, out, "within_h", "before_empty_h", required=False)
    if kind == "battery_hours" and "min_h" not in out and "max_h" not in out:
        raise _Bad(f"{where}.min_h", "missing (or give max_h)")
    return out


def validate(data: dict[str, Any]) -> dict[str, Any]:
    """Check a parsed scenario; raise _Bad(field, reason)."""
    known = set(TOP) | {"container", "power", "sensors", "phase", "fault", "expect",
                        "disposition"}
    for key in data:
        if key not in known:
            raise _Bad(key, "unknown field")
    if "disposition" in data:  # checked, then left out: the run ignores it
        _table("disposition", data["disposition"], DISPOSITION)
    out = _table("", {k: v for k, v in data.items() if k in TOP}, TOP)
    tick = out["tick_s"]
    out["container"] = _container(_need(data, "container"), tick)
    out["power"] = _table("power", _need(data, "power"), POWER)
    out["sensors"] = _sensors(_need(data, "sensors"))
    phases = _array("phase", _need(data, "phase"))
    if not phases:
        raise _Bad("phase", "needs at least one [[phase]]")
    out["phases"] = [_phase(i, p) for i, p in enumerate(phases)]
    mission_s = sum(p.get("duration_s", p.get("duration_h", 0) * 3600) for p in out["phases"])
    out["duration_s"] = mission_s
    out["faults"] = [
        _fault(i, f, mission_s) for i, f in enumerate(_array("fault", data.get("fault", [])))
    ]
    out["expects"] = [
        _expect(i, e) for i, e in enumerate(_array("expect", data.get("expect", [])))
    ]
    return out


def _need(data: dict[str, Any], field: str) -> Any:
    if field not in data:
        raise _Bad(field, "missing")
    return data[field]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; anything else (arrays of phases, faults,
    expectations included) in `over` replaces the base's."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read(path: Path, shown: str, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Parse a file and, through `base = "NAME"`, the scenarios it extends."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{shown}: not valid TOML: {e}") from None
    except OSError as e:
        raise ScenarioError(f"{shown}: {e.strerror}") from None
    base = data.get("base")
    if base is None:
        return data
    if not isinstance(base, str) or not base.strip():
        raise ScenarioError(f"{shown}: base: must be a non-empty string")
    try:
        near = path.parent / f"{base}.toml"
        if "/" not in base and not near.exists():
            near = SCENARIO_DIR / f"{base}.toml"  # a shipped scenario, from anywhere
        base_path = resolve(base if "/" in base else near)
    except ScenarioError as e:
        raise ScenarioError(f"{shown}: base: {e}") from None
    if base_path.resolve() in seen:
        raise ScenarioError(f"{shown}: base: {base!r} extends itself")
    parent = _read(base_path, shown, seen + (path.resolve(),))
    parent.pop("base", None)
    # a disposition is of the scenario's own report, never its base's
    parent.pop("disposition", None)
    return _merge(parent, data)


def load(name_or_path: str | Path) -> dict[str, Any]:
    """Load and validate a scenario by name or path; raise ScenarioError.
    A scenario may start from another with `base = "NAME"` (same folder):
    its tables are merged, its arrays ([[phase]], [[fault]], [[expect]])
    replaced."""
    return _load(name_or_path)[0]


def disposition(name_or_path: str | Path) -> dict[str, str] | None:
    """The scenario's [disposition] table (verdict, why), None if it has
    none (a base scenario's is not inherited); the whole scenario is
    validated first, so a bad one raises ScenarioError as load() does."""
    got = _load(name_or_path)[1].get("disposition")
    return None if got is None else _table("disposition", got, DISPOSITION)


def _load(name_or_path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validated scenario and the parsed tables it came from."""
    path = resolve(name_or_path)
    shown = _display(path)
    data = _read(path, shown)
    try:
        sc = validate(data)
    except _Bad as e:
        raise ScenarioError(f"{shown}: {e.field}: {e.reason}") from None
    sc["path"] = str(path)
    return sc, data


def validate_tick(sc: dict[str, Any]) -> dict[str, Any]:
    """Re-check a loaded scenario after its tick_s was changed (a faster,
    coarser run): the explicitly coupled PCM must stay many ticks long."""
    tick = sc["tick_s"]
    pcm = sc["container"].get("pcm")
    if pcm and pcm["heat_capacity_j_per_k"] / pcm["conductance_w_per_k"] < PCM_MIN_STEPS * tick:
        shown = _display(Path(sc["path"]))
        raise ScenarioError(
            f"{shown}: container.pcm.conductance_w_per_k: too fast a PCM for a {tick} s tick "
            f"(heat_capacity / conductance must be at least {PCM_MIN_STEPS} ticks)"
        )
    return sc


# Expectations a leg (the mission's first hours) is still held to: each
# says nothing went wrong, so what holds for the whole holds for its start.
# The others (an alarm, a probe fault, the battery's hours or running out)
# need what comes later, and a leg cannot be held to them.
LEG_EXPECTS = ("in_band", "no_excursion", "no_alarm", "no_probe_fault", "log_intact")


def leg(sc: dict[str, Any], hours: float) -> dict[str, Any]:
    """The scenario cut to its first `hours`: the phase running at the cut
    ends there, later phases and faults go, and only LEG_EXPECTS are kept
    (sc["dropped_expects"] lists the others). Used for campaigns of
    one-day legs; `podctl sim run --hours` flies the same leg alone."""
    if not _is_num(hours) or hours <= 0:
        raise ScenarioError(f"leg: hours must be a positive number, got {hours!r}")
    end = hours * 3600.0
    if end >= sc["duration_s"]:
        return sc
    phases = []
    t = 0.0
    for p in sc["phases"]:
        d = p["duration_s"] if "duration_s" in p else p["duration_h"] * 3600.0
        if t + d >= end:
            p = {k: v for k, v in p.items() if k != "duration_h"}
            p["duration_s"] = end - t
            phases.append(p)
            break
        phases.append(p)
        t += d
    out = dict(sc)
    out["phases"] = phases
    out["duration_s"] = end
    out["faults"] = [
        f for f in sc["faults"] if f.get("at_s", f.get("at_h", 0) * 3600.0) < end
    ]
    out["expects"] = [e for e in sc["expects"] if e["kind"] in LEG_EXPECTS]
    out["dropped_expects"] = [e for e in sc["expects"] if e["kind"] not in LEG_EXPECTS]
    return out
