"""Handling profiles as people write them (TOML) and as the device runs them
(protocol/profile.py bytes).

compile_file() reads a TOML profile, checks every field, builds the bytes
and runs the device's own check() on them, so a file this accepts is one the
device accepts. Every problem is one line naming the file, the field and the
rule: ``examples/profiles/nominal.toml: phase[2].band_c: band_low must be
below setpoint_c``. decompile() turns bytes back into the same TOML tables
(for `profile show` and its --diff).

The layout is documented in examples/profiles/README.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol import codes, names
from protocol import profile as pf

PROFILE_DIR = Path(__file__).resolve().parents[2] / "examples" / "profiles"
# a top-level table compile_data accepts and leaves out of the device's bytes
SHIPMENT = "shipment"


class ProfileError(ValueError):
    """A profile that cannot be used; the message is one line."""


def _mdeg(v: float) -> int:
    return round(v * 1000)


# TOML key -> (device field, to device, from device). Temperatures are written
# in degC, the device stores mdegC; times in the unit the key names.
Conv = tuple[str, Callable[[Any], int], Callable[[int], Any]]
_CHOICE = {
    "mode": ({"pid": codes.MODE_PID, "onoff": codes.MODE_ONOFF}, "control"),
    "safe_mode": (
        {
            "hold": codes.MODE_HOLD,
            "passive": codes.MODE_PASSIVE,
            "heat_only": codes.MODE_HEAT_ONLY,
        },
        "safe_mode",
    ),
    "storage_full": (
        {"stop": pf.POLICY_STOP, "overwrite": pf.POLICY_OVERWRITE},
        "full_policy",
    ),
}
_TOP: dict[str, Conv] = {"min_probes": ("min_probes", int, int)}
_TABLES: dict[str, dict[str, Conv]] = {
    "probes": {
        "min_c": ("probe_min", _mdeg, lambda v: v / 1000),
        "max_c": ("probe_max", _mdeg, lambda v: v / 1000),
        "rate_max_c_per_s": ("rate_max", _mdeg, lambda v: v / 1000),
        "disagree_c": ("disagree", _mdeg, lambda v: v / 1000),
        "stuck_s": ("stuck_s", int, int),
        "recover_s": ("recover_s", int, int),
    },
    "control": {
        "kp_heat": ("kp_heat", int, int),
        "ki_heat": ("ki_heat", int, int),
        "kp_cool": ("kp_cool", int, int),
        "ki_cool": ("ki_cool", int, int),
        "deadband_c": ("deadband", _mdeg, lambda v: v / 1000),
        "slew_permille_per_s": ("slew", int, int),
        "heater_max_permille": ("heater_max", int, int),
        "peltier_max_permille": ("peltier_max", int, int),
        "safe_heat_permille": ("safe_heat", int, int),
    },
    "alarms": {
        "battery_low_v": ("battery_low", lambda v: round(v * 1000), lambda v: v / 1000),
        "shock_g": ("shock", lambda v: round(v * 1000), lambda v: v / 1000),
        "lid_open_s": ("lid_s", int, int),
        "cumulative_min": ("cumulative_s", lambda v: round(v * 60), lambda v: v / 60),
    },
}
_PHASE: dict[str, Conv] = {
    "setpoint_c": ("setpoint", _mdeg, lambda v: v / 1000),
    "excursion_delay_min": ("event_s", lambda v: round(v * 60), lambda v: v / 60),
    "sample_interval_s": ("interval", int, int),
}
_PHASE_PAIRS = {"band_c": ("band_low", "band_high"), "absolute_c": ("abs_low", "abs_high")}
_PHASE_FLAGS = (
    ("cool", pf.PHASE_COOL),
    ("heat", pf.PHASE_HEAT),
    ("peltier_heats", pf.PHASE_PELTIER_HEATS),
)

_HEADER_NAMES = [f[0] for f in pf.HEADER_FIELDS]
_PHASE_NAMES = [f[0] for f in pf.PHASE_FIELDS]


def _toml_name(device_field: str) -> str:
    """Where a device field comes from in the TOML file."""
    for key, (_, name) in _CHOICE.items():
        if name == device_field:
            return key
    for key, conv in _TOP.items():
        if conv[0] == device_field:
            return key
    for table, keys in _TABLES.items():
        for key, conv in keys.items():
            if conv[0] == device_field:
                return f"{table}.{key}"
    return device_field


def _phase_key(device_field: str) -> str:
    for key, conv in _PHASE.items():
        if conv[0] == device_field:
            return key
    for key, pair in _PHASE_PAIRS.items():
        if device_field in pair:
            return key
    if device_field == "duration":
        return "duration"
    return device_field


def resolve(name_or_path: str | Path) -> Path:
    s = str(name_or_path)
    if s.endswith(".toml") or "/" in s:
        return Path(s)
    return PROFILE_DIR / f"{s}.toml"


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def compile_file(name_or_path: str | Path) -> bytes:
    """The device bytes of a TOML profile; raises ProfileError."""
    path = resolve(name_or_path)
    shown = _shown(path)
    if not path.exists():
        known = ", ".join(profile_names())
        raise ProfileError(f"{shown}: no such profile file (examples/profiles has: {known})")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{shown}: not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{shown}: cannot read: {e}") from None
    try:
        return compile_data(data)
    except _FieldError as e:
        raise ProfileError(f"{shown}: {e.field}: {e.reason}") from None


class _FieldError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _number(where: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _FieldError(where, f"must be a number, got {v!r}")
    return v


def _unknown(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        prefix = f"{where}." if where else ""
        raise _FieldError(
            f"{prefix}{extra[0]}", f"unknown field (allowed: {', '.join(sorted(allowed))})"
        )


def compile_data(data: dict[str, Any]) -> bytes:
    """Bytes from the parsed TOML tables; raises _FieldError (compile_file
    turns it into a one-line ProfileError naming the file)."""
    values: dict[str, Any] = {"magic": pf.MAGIC, "version": pf.VERSION, "reserved": 0}
    _unknown("", data, {"name", "description", "phase", SHIPMENT, *_CHOICE, *_TOP, *_TABLES})
    # the consignment is the QA report's (podctl logs report reads it, checks
    # it field by field); the device never sees it, so the bytes are the same
    # with or without it. A table it must be, though: a stray `shipment = 1`
    # is a typo worth a line here, not at report time.
    if SHIPMENT in data and not isinstance(data[SHIPMENT], dict):
        raise _FieldError(SHIPMENT, "must be a table ([shipment])")
    name = data.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > 16:
        raise _FieldError("name", "must be text of 1 to 16 bytes")
    values["name"] = name.encode()
    for key, (choices, field) in _CHOICE.items():
        got = data.get(key)
        if got not in choices:
            raise _FieldError(key, f"must be one of {', '.join(choices)}, got {got!r}")
        values[field] = choices[got]
    for key, (field, to_dev, _) in _TOP.items():
        if key not in data:
            raise _FieldError(key, "missing")
        values[field] = to_dev(_number(key, data[key]))
    for table, keys in _TABLES.items():
        t = data.get(table)
        if not isinstance(t, dict):
            raise _FieldError(table, "missing table")
        _unknown(table, t, set(keys))
        for key, (field, to_dev, _) in keys.items():
            if key not in t:
                raise _FieldError(f"{table}.{key}", "missing")
            values[field] = to_dev(_number(f"{table}.{key}", t[key]))
    phases_in = data.get("phase")
    if not isinstance(phases_in, list) or not phases_in:
        raise _FieldError("phase", "at least one [[phase]] is needed")
    if len(phases_in) > pf.MAX_PHASES:
        raise _FieldError("phase", f"at most {pf.MAX_PHASES} phases")
    phases = [_phase(i, p) for i, p in enumerate(phases_in)]
    for i, ph in enumerate(phases[:-1]):  # the last phase never ends
        hold, duration = ph[pf.P_MAX_HOLD], ph[pf.P_DURATION]
        if hold and duration and hold * 3600 < duration:
            raise _FieldError(
                f"phase[{i}].max_hold_h",
                f"{hold} h is shorter than the phase's duration ({duration / 3600:g} h):"
                " the hold alarm would raise in every mission",
            )
    # the lowest version that says it: a profile with no hold limit stays
    # version 1, which firmware from before version 2 still takes
    if not any(ph[pf.P_MAX_HOLD] for ph in phases):
        values["version"] = 1
    values["nphases"] = len(phases)
    header = [values[n] for n in _HEADER_NAMES]
    for i, n in enumerate(_HEADER_NAMES):
        lo, hi = pf.HEADER_FIELDS[i][3], pf.HEADER_FIELDS[i][4]
        if lo is not None and not lo <= header[i] <= hi:
            raise _FieldError(_toml_name(n), _range_text(pf.HEADER_FIELDS[i], header[i]))
    blob = pf.build(header, phases)
    verdict = pf.check(blob)
    if not isinstance(verdict, pf.Profile):
        reason, at = verdict
        raise _FieldError(*explain(reason, at))
    return blob


def _range_text(field: tuple, value: int) -> str:
    _name, _, unit, lo, hi = field
    return f"{value} {unit} is outside {lo}..{hi} {unit}".replace("  ", " ")


def _phase(i: int, p: Any) -> list[Any]:
    where = f"phase[{i}]"
    if not isinstance(p, dict):
        raise _FieldError(where, "must be a table")
    flags = [k for k, _ in _PHASE_FLAGS]
    _unknown(
        where,
        p,
        {
            "name", "duration_h", "duration_s", "until_command", "max_hold_h",
            *_PHASE, *_PHASE_PAIRS, *flags,
        },
    )
    v: dict[str, Any] = {"max_hold_h": 0}
    name = p.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > 8:
        raise _FieldError(f"{where}.name", "must be text of 1 to 8 bytes")
    v["name"] = name.encode()
    given = [k for k in ("duration_h", "duration_s", "until_command") if k in p]
    if len(given) != 1:
        raise _FieldError(
            where, "give exactly one of duration_h, duration_s, until_command = true"
        )
    if given[0] == "until_command":
        if p["until_command"] is not True:
            raise _FieldError(f"{where}.until_command", "must be true")
        v["duration"] = 0
    else:
        d = _number(f"{where}.{given[0]}", p[given[0]])
        v["duration"] = round(d * 3600) if given[0] == "duration_h" else round(d)
        if v["duration"] <= 0:
            raise _FieldError(f"{where}.{given[0]}", "must be positive")
    for key, (field, to_dev, _) in _PHASE.items():
        if key not in p:
            raise _FieldError(f"{where}.{key}", "missing")
        v[field] = to_dev(_number(f"{where}.{key}", p[key]))
    if "max_hold_h" in p:
        hold = p["max_hold_h"]
        if isinstance(hold, bool) or not isinstance(hold, int) or not 1 <= hold <= 255:
            raise _FieldError(
                f"{where}.max_hold_h", f"must be a whole number of hours, 1 to 255, got {hold!r}"
            )
        v["max_hold_h"] = hold
    for key, (lo_f, hi_f) in _PHASE_PAIRS.items():
        pair = p.get(key)
        if not isinstance(pair, list) or len(pair) != 2:
            raise _FieldError(f"{where}.{key}", "must be [low, high] in degC")
        v[lo_f] = _mdeg(_number(f"{where}.{key}", pair[0]))
        v[hi_f] = _mdeg(_number(f"{where}.{key}", pair[1]))
    f = 0
    for key, bit in _PHASE_FLAGS:
        on = p.get(key, key != "peltier_heats")
        if not isinstance(on, bool):
            raise _FieldError(f"{where}.{key}", "must be true or false")
        f |= bit if on else 0
    v["flags"] = f
    out = [v[n] for n in _PHASE_NAMES]
    for j, n in enumerate(_PHASE_NAMES):
        lo, hi = pf.PHASE_FIELDS[j][3], pf.PHASE_FIELDS[j][4]
        if lo is not None and not lo <= out[j] <= hi:
            raise _FieldError(f"{where}.{_phase_key(n)}", _range_text(pf.PHASE_FIELDS[j], out[j]))
    return out


def explain(reason: int, at: int) -> tuple[str, str]:
    """A device refusal as (TOML field, rule)."""
    if reason == pf.REFUSE_BAND:
        return (
            f"phase[{(at >> 4) & 15}]",
            "needs absolute_c low <= band_c low < setpoint_c < band_c high <= absolute_c high",
        )
    if reason == pf.REFUSE_PROBES:
        return (
            f"phase[{(at >> 4) & 15}].absolute_c",
            "must lie inside probes.min_c .. probes.max_c",
        )
    text = names.name(tuple((r[0], r[2]) for r in pf.REFUSALS), reason)
    return (pf.where(reason, at) or "profile", text)


def decompile(blob: bytes) -> dict[str, Any]:
    """The TOML tables of device bytes (raises ProfileError if refused)."""
    prof = pf.check(blob)
    if not isinstance(prof, pf.Profile):
        field, rule = explain(*prof)
        raise ProfileError(f"device profile refused: {field}: {rule}")
    h = dict(zip(_HEADER_NAMES, prof.header))
    out: dict[str, Any] = {"name": h["name"].rstrip(b"\x00").decode()}
    for key, (choices, field) in _CHOICE.items():
        out[key] = next(k for k, n in choices.items() if n == h[field])
    for key, (field, _, from_dev) in _TOP.items():
        out[key] = from_dev(h[field])
    for table, keys in _TABLES.items():
        out[table] = {key: from_dev(h[field]) for key, (field, _, from_dev) in keys.items()}
    phases = []
    for i, ph in enumerate(prof.phases):
        v = dict(zip(_PHASE_NAMES, ph))
        p: dict[str, Any] = {"name": prof.phase_name(i)}
        if v["duration"]:
            p["duration_s"] = v["duration"]
        else:
            p["until_command"] = True
        for key, (field, _, from_dev) in _PHASE.items():
            p[key] = from_dev(v[field])
        for key, (lo_f, hi_f) in _PHASE_PAIRS.items():
            p[key] = [v[lo_f] / 1000, v[hi_f] / 1000]
        for key, bit in _PHASE_FLAGS:
            p[key] = bool(v["flags"] & bit)
        if v["max_hold_h"]:
            p["max_hold_h"] = v["max_hold_h"]
        phases.append(p)
    out["phase"] = phases
    return out
