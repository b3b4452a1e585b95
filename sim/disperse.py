"""Dispersions: a scenario's numbers drawn again for each seed of a campaign.

A dispersion file (sim/dispersions/NAME.toml, or any path) lists the
numbers to draw and how::

    description = "..."
    [[param]]
    field = "container.wall_conductance_w_per_k"
    sigma_percent = 10           # x (1 + N(0, 0.10)), truncated at 3 sigma
    [[param]]
    field = "sensors.probe[*].offset_mdegc"
    sigma = 50                   # + N(0, 50), each probe its own draw
    [[param]]
    field = "phase[orbit].sunlit_c"
    uniform = [-2.0, 2.0]        # + U(-2, 2)
    [[param]]
    field = "fault[*].at_h"
    uniform = [-6.0, 6.0]
    if_present = true            # no error when the scenario has no fault

Exactly one of sigma, sigma_percent, uniform, uniform_percent per entry.
A field is a number of the scenario layout (sim/scenarios/README.md):
section.key, container.peltier.key, container.pcm.key, and in arrays
sensors.probe[I|*].key, phase[NAME|I|*].key, fault[I|*].key. `*` draws
each element that has the key, each on its own. A path that matches
nothing is an error unless the entry says `if_present = true`. A fault's
or phase's `_h` and `_s` keys are one quantity: at_h disperses an at_s.

Each drawn number has its own generator, seeded from (seed, expanded field
name) through SHA-256: the draws of one field never depend on which other
fields are dispersed, and the simulator's own noise (sim/rng.py, seeded
with the seed) is untouched. So `apply(sc, spec, seed)` is a pure function:
a campaign's run S and `podctl sim run SCENARIO --seed S --disperse FILE`
fly the same container.

Normal draws are truncated at 3 sigma (redrawn), so the extremes that
load() checks against the scenario's own rules bound every draw.

CPython only (tomllib).
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from sim import scenario
from sim.rng import Rng

DISPERSION_DIR = Path(__file__).resolve().parent / "dispersions"
DEFAULT = "default"
KINDS = ("sigma", "sigma_percent", "uniform", "uniform_percent")
TRUNCATE_SIGMA = 3.0
# the scenario checkers whose values are real numbers (integers such as
# cutoff_mv or quant_mdegc are not dispersed: a draw would have to round)
_REAL = (scenario.num, scenario.pos, scenario.nonneg, scenario.frac, scenario.percent)


class DisperseError(ValueError):
    """A dispersion that cannot be used; the message is one line."""


def names() -> list[str]:
    return sorted(p.stem for p in DISPERSION_DIR.glob("*.toml"))


def resolve(name_or_path: str | Path) -> Path:
    """A dispersion name (sim/dispersions/NAME.toml) or a path."""
    return scenario.resolve_in(DISPERSION_DIR, name_or_path, "dispersion", DisperseError)


def for_scenario(sc: dict[str, Any]) -> str:
    """The dispersion a campaign uses when none is given: NAME.toml beside
    the defaults when the scenario has its own, else default.toml."""
    own = DISPERSION_DIR / f"{sc['name']}.toml"
    return sc["name"] if own.is_file() else DEFAULT


# -- the file -----------------------------------------------------------------


def load(name_or_path: str | Path, sc: dict[str, Any]) -> dict[str, Any]:
    """Read and check a dispersion against a loaded scenario: every path
    resolves, every field is a real number of the layout, and the extreme
    draws of each still make a valid scenario. Returns the spec (plain data:
    it travels to the campaign's workers). Raises DisperseError."""
    path = resolve(name_or_path)
    shown = str(name_or_path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise DisperseError(f"{shown}: not valid TOML: {e}") from None
    except OSError as e:
        raise DisperseError(f"{shown}: {e.strerror}") from None
    spec = parse(data, shown)
    spec["name"] = path.stem if path.parent == DISPERSION_DIR else str(path)
    check(spec, sc)
    return spec


def parse(data: Any, shown: str = "dispersion") -> dict[str, Any]:
    """The file's content as a spec; DisperseError on a malformed entry."""
    if not isinstance(data, dict):
        raise DisperseError(f"{shown}: must be a table")
    for key in data:
        if key not in ("description", "param"):
            raise DisperseError(f"{shown}: {key}: unknown field (description, [[param]])")
    params = data.get("param")
    if not isinstance(params, list) or not params:
        raise DisperseError(f"{shown}: param: needs at least one [[param]]")
    out = []
    for i, p in enumerate(params):
        where = f"{shown}: param[{i}]"
        if not isinstance(p, dict):
            raise DisperseError(f"{where}: must be a table")
        for key in p:
            if key not in ("field", "if_present") + KINDS:
                raise DisperseError(f"{where}.{key}: unknown field")
        field = p.get("field")
        if not isinstance(field, str):
            raise DisperseError(
                f"{where}.field: must be a path such as container.wall_conductance_w_per_k "
                "or phase[orbit].sunlit_c"
            )
        try:
            _split(field)
        except DisperseError as e:
            raise DisperseError(f"{where}.field: {e}") from None
        kinds = [k for k in KINDS if k in p]
        if len(kinds) != 1:
            raise DisperseError(f"{where}: give exactly one of {', '.join(KINDS)}")
        kind = kinds[0]
        v = p[kind]
        if kind.startswith("sigma"):
            if not _real(v) or v <= 0:
                raise DisperseError(f"{where}.{kind}: must be a positive number")
            arg: Any = float(v)
        else:
            if (
                not isinstance(v, list) or len(v) != 2 or not all(_real(x) for x in v)
                or not v[0] < v[1]
            ):
                raise DisperseError(f"{where}.{kind}: must be [low, high] with low < high")
            arg = [float(v[0]), float(v[1])]
        if kind == "sigma_percent" and arg * TRUNCATE_SIGMA >= 100:
            raise DisperseError(
                f"{where}.sigma_percent: must be under {100 / TRUNCATE_SIGMA:.1f} "
                "(a 3-sigma draw would change the sign)"
            )
        optional = p.get("if_present", False)
        if not isinstance(optional, bool):
            raise DisperseError(f"{where}.if_present: must be true or false")
        out.append({"field": field, "kind": kind, "arg": arg, "if_present": optional})
    desc = data.get("description", "")
    return {"description": desc if isinstance(desc, str) else "", "param": out}


def _real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# -- paths into a loaded scenario ---------------------------------------------

# an array section -> its key in the loaded scenario
_ARRAYS = {"phase": "phases", "fault": "faults", "probe": "probe"}


def _phase_fields() -> dict[str, Any]:
    out = dict(scenario.PHASE_COMMON)
    for model in scenario.PHASE_MODEL.values():
        out.update(model)
    return out


def _fault_fields() -> dict[str, Any]:
    out = dict(scenario.FAULT_COMMON)
    for params in scenario.FAULT_PARAMS.values():
        out.update(params)
    out["duration_h"] = out["duration_s"] = (scenario.pos, None)
    return out


def _layout(section: str, sub: str | None) -> dict[str, Any] | None:
    if section == "container":
        return {None: scenario.CONTAINER, "peltier": scenario.PELTIER, "pcm": scenario.PCM}.get(
            sub
        )
    if section == "power" and sub is None:
        return scenario.POWER
    if section == "sensors":
        return {None: scenario.SENSORS, "probe": scenario.PROBE}.get(sub)
    if section == "phase" and sub is None:
        return _phase_fields()
    if section == "fault" and sub is None:
        return _fault_fields()
    return None


def _twin(key: str) -> str | None:
    """at_h <-> at_s, duration_h <-> duration_s: one quantity, two units."""
    if key.endswith("_h") and key[:-2] in ("at", "duration"):
        return key[:-2] + "_s"
    if key.endswith("_s") and key[:-2] in ("at", "duration"):
        return key[:-2] + "_h"
    return None


_SEGMENT = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[([^\]]+)\])?$")


def _split(field: str) -> list[tuple[str, str | None]]:
    """'sensors.probe[*].lag_s' -> [(sensors, None), (probe, '*'), (lag_s, None)]."""
    out = []
    for seg in field.split("."):
        m = _SEGMENT.match(seg)
        if not m:
            raise DisperseError(f"{field}: not a field path ({seg!r})")
        out.append((m.group(1), m.group(2)))
    return out


def targets(sc: dict[str, Any], field: str) -> list[tuple[str, dict[str, Any], str]]:
    """(expanded name, the dict that holds the key, key) for each number a
    path names in sc; DisperseError for a path the layout does not have."""
    segs = _split(field)
    key, kidx = segs[-1]
    if len(segs) not in (2, 3) or kidx is not None:
        raise DisperseError(f"{field}: not a field path (TABLE.KEY or TABLE.SUB.KEY)")
    (section, index), sub, subidx = segs[0], None, None
    if len(segs) == 3:
        sub, subidx = segs[1]
        if index is not None:
            raise DisperseError(f"{field}: not a field path")
    layout = _layout(section, sub)
    if layout is None:
        raise DisperseError(f"{field}: no such table in a scenario")
    if key not in layout:
        where = section + (f".{sub}" if sub else "")
        raise DisperseError(f"{field}: {key}: no such field in {where}")
    if layout[key][0] not in _REAL:
        raise DisperseError(f"{field}: {key} is not a real number (only those are dispersed)")
    array = sub == "probe" or section in ("phase", "fault")
    pick = subidx if sub == "probe" else index
    if array != (pick is not None):
        what = "an array: give [N], [NAME] or [*]" if array else "not an array: no [...]"
        raise DisperseError(f"{field}: {sub or section} is {what}")
    if not array:
        holder = sc[section] if sub is None else sc[section].get(sub)
        if holder is None or key not in holder:
            return []
        return [(field, holder, key)]
    what = "sensors.probe" if sub == "probe" else section
    elems = sc["sensors"]["probe"] if sub == "probe" else sc[_ARRAYS[section]]
    assert pick is not None
    out = []
    for i, el in _pick(field, what, elems, pick):
        if key in el or _twin(key) in el:
            out.append((f"{what}[{_label(el, i)}].{key}", el, key))
    return out


def _pick(field: str, what: str, elems: list[dict], index: str) -> list[tuple[int, dict]]:
    if index == "*":
        return list(enumerate(elems))
    if index.isdigit():
        i = int(index)
        if i >= len(elems):
            raise DisperseError(f"{field}: {what} has {len(elems)} elements, no [{i}]")
        return [(i, elems[i])]
    hits = [(i, e) for i, e in enumerate(elems) if e.get("name") == index]
    if not hits:
        known = ", ".join(str(e.get("name")) for e in elems if "name" in e) or "(none named)"
        raise DisperseError(f"{field}: no {what} named {index!r}; known: {known}")
    return hits


def _label(el: dict[str, Any], i: int) -> str:
    # a phase by its name (names read better in a dataset's columns), a
    # fault or probe by its index
    return el["name"] if "name" in el else str(i)


# -- drawing ------------------------------------------------------------------


def _rng(seed: int, name: str) -> Rng:
    h = hashlib.sha256(b"podctl disperse:%d:%s" % (seed, name.encode())).digest()
    return Rng(int.from_bytes(h[:8], "little"))


def _draw(p: dict[str, Any], nominal: float, rng: Rng) -> float:
    kind, arg = p["kind"], p["arg"]
    if kind.startswith("sigma"):
        while True:
            z = rng.gauss()
            if abs(z) <= TRUNCATE_SIGMA:
                break
        return nominal + arg * z if kind == "sigma" else nominal * (1.0 + arg / 100.0 * z)
    u = arg[0] + (arg[1] - arg[0]) * rng.uniform()
    return nominal + u if kind == "uniform" else nominal * (1.0 + u / 100.0)


def _extremes(p: dict[str, Any], nominal: float) -> tuple[float, float]:
    kind, arg = p["kind"], p["arg"]
    if kind == "sigma":
        return nominal - TRUNCATE_SIGMA * arg, nominal + TRUNCATE_SIGMA * arg
    if kind == "sigma_percent":
        f = TRUNCATE_SIGMA * arg / 100.0
        return nominal * (1 - f), nominal * (1 + f)
    if kind == "uniform":
        return nominal + arg[0], nominal + arg[1]
    return nominal * (1 + arg[0] / 100.0), nominal * (1 + arg[1] / 100.0)


def _read(holder: dict[str, Any], key: str) -> float:
    if key in holder:
        return float(holder[key])
    twin = _twin(key)
    assert twin is not None
    v = float(holder[twin])
    return v / 3600.0 if key.endswith("_h") else v * 3600.0


def _write(holder: dict[str, Any], key: str, value: float) -> None:
    twin = _twin(key)
    if twin is not None:
        holder.pop(twin, None)
    holder[key] = value


def _expand(spec: dict[str, Any], sc: dict[str, Any]):
    for p in spec["param"]:
        found = targets(sc, p["field"])
        if not found and not p["if_present"]:
            raise DisperseError(
                f"{p['field']}: matches nothing in scenario {sc['name']} "
                "(say if_present = true to allow that)"
            )
        for name, holder, key in found:
            yield p, name, holder, key


def parameters(spec: dict[str, Any] | None, sc: dict[str, Any]) -> list[str]:
    """The expanded names a spec draws for sc, in file order."""
    return [] if spec is None else [name for _, name, _, _ in _expand(spec, sc)]


def apply(
    sc: dict[str, Any], spec: dict[str, Any] | None, seed: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """The scenario with its numbers drawn for seed, and {name: value}.
    The result is re-validated (sim.scenario's rules); a draw that breaks
    one (two fields drawn into a combination the loader refuses) raises
    DisperseError naming the seed."""
    if spec is None:
        return sc, {}
    out = copy.deepcopy(sc)
    values: dict[str, float] = {}
    for p, name, holder, key in _expand(spec, out):
        v = _draw(p, _read(holder, key), _rng(seed, name))
        _write(holder, key, v)
        values[name] = v
    return _revalidate(out, f"seed {seed}"), values


def check(spec: dict[str, Any], sc: dict[str, Any]) -> None:
    """Each expanded number at both ends of its draw, the others nominal,
    must still make a valid scenario."""
    for p, name, holder, key in _expand(spec, sc):
        nominal = _read(holder, key)
        for end in _extremes(p, nominal):
            trial = copy.deepcopy(sc)
            for _, n2, h2, k2 in _expand({"param": [p]}, trial):
                if n2 == name:
                    _write(h2, k2, end)
            try:
                _revalidate(trial, f"{name} = {end:g}")
            except DisperseError as e:
                raise DisperseError(
                    f"{p['field']}: a draw at the edge of its range breaks the scenario: {e}"
                ) from None


def _revalidate(sc: dict[str, Any], what: str) -> dict[str, Any]:
    raw = {k: v for k, v in sc.items() if k in scenario.TOP and k != "base"}
    raw.update(
        container=sc["container"], power=sc["power"], sensors=sc["sensors"],
        phase=sc["phases"], fault=sc["faults"], expect=sc["expects"],
    )
    try:
        out = scenario.validate(raw)
    except scenario._Bad as e:
        raise DisperseError(f"{what}: {e.field}: {e.reason}") from None
    out["path"] = sc["path"]
    try:
        return scenario.validate_tick(out)
    except scenario.ScenarioError as e:
        raise DisperseError(f"{what}: {e}") from None
