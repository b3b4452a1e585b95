"""What the report says about the consignment and its probes, besides the
log: product, batch, quantity, labelled storage, consignor and consignee,
and each probe's identity and calibration. None of it is in the device's
profile bytes, so it comes from a `[shipment]` table (in the profile's TOML
or a file of its own) or the command line. What nobody stated reads
"not stated": the report never invents a batch number or a calibration.

  [shipment]
  product = "Vaccine X 10 mL vials"      # every key optional
  batch = "4711-B"
  quantity = "1,200 vials"
  storage = "2 to 8 degC"                 # the labelled storage condition
  consignor = "Acme Biologics, Basel"
  consignee = "Orbital Lab GmbH, Bremen"
  [[shipment.probe]]
  index = 0                               # the channel, 0 to 3
  serial = "NTC-0412"
  position = "payload, top"
  certificate = "CAL-2026-0412"
  calibration_due = "2027-06-30"
  accuracy_c = 0.3

  ship = shipment.from_table(tomllib.load(f)["shipment"], "qa.toml")

The accuracy budget of the reference board's probe chain (NTC, divider,
ADC with its RP2040-E11 correction) is docs/reference-board.md's, restated
here so the report carries it with every probe table.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from podctl.errors import BadInput

NOT_STATED = "not stated"
NPROBES = 4

# the consignment's fields, in the order the report lists them: (key, label)
FIELDS = (
    ("product", "Product"),
    ("batch", "Batch / lot"),
    ("quantity", "Quantity"),
    ("storage", "Labelled storage condition"),
    ("consignor", "Consignor"),
    ("consignee", "Consignee"),
)
_PROBE_KEYS = {"index", "serial", "position", "certificate", "calibration_due", "accuracy_c"}

# docs/reference-board.md, "Probe accuracy (NTC, divider, ADC)", at 37 degC
ACCURACY_BUDGET = (
    ("NTC R25, 1 %", "+-0.24 K"),
    ("NTC beta, 1 %", "+-0.12 K"),
    ("series resistor, 0.1 %", "+-0.03 K"),
    ("ADC erratum RP2040-E11 after correction (half a wide code)", "+-0.13 K"),
    ("other ADC non-linearity after correction, +-2 codes", "+-0.05 K"),
    ("5 K interpolation table (0 to 45 degC)", "+0.06 K at most"),
    ("ADC noise, 8 reads averaged", "under +-0.02 K"),
)
ACCURACY_TOTAL = "about +-0.6 K worst case; about +-0.3 K root-sum-square"
ACCURACY_SOURCE = "docs/reference-board.md (reference board: 10 kOhm NTC, beta 3950)"


@dataclass(frozen=True)
class ProbeId:
    index: int
    serial: str = NOT_STATED
    position: str = NOT_STATED
    certificate: str = NOT_STATED
    calibration_due: str = NOT_STATED
    accuracy: str = NOT_STATED  # "+-0.30 degC", as stated

    def overdue(self, on_utc: float) -> bool:
        """The calibration was due before on_utc (a time of the data)."""
        try:
            due = _dt.date.fromisoformat(self.calibration_due)
        except ValueError:
            return False
        return _dt.datetime.fromtimestamp(on_utc, _dt.UTC).date() > due


@dataclass(frozen=True)
class Shipment:
    product: str = NOT_STATED
    batch: str = NOT_STATED
    quantity: str = NOT_STATED
    storage: str = NOT_STATED
    consignor: str = NOT_STATED
    consignee: str = NOT_STATED
    probes: tuple[ProbeId, ...] = field(
        default_factory=lambda: tuple(ProbeId(i) for i in range(NPROBES)))

    def rows(self) -> list[tuple[str, str]]:
        return [(label, getattr(self, key)) for key, label in FIELDS]

    @property
    def stated(self) -> bool:
        return any(v != NOT_STATED for _, v in self.rows())

    def given(self, **values: str | None) -> Shipment:
        """This shipment with the values given (the command line's) in
        place of its own; None and blank values leave a field as it is."""
        kept = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}
        unknown = set(kept) - {k for k, _ in FIELDS}
        if unknown:
            raise ValueError(f"no shipment field {sorted(unknown)[0]}")
        v = {k: kept.get(k, getattr(self, k)) for k, _ in FIELDS}
        return Shipment(v["product"], v["batch"], v["quantity"], v["storage"], v["consignor"],
                        v["consignee"], self.probes)


def _text(where: str, v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float, _dt.date)):
        raise BadInput(f"{where}: must be text, got {v!r}")
    text = str(v).strip()
    if not text or "\n" in text:
        raise BadInput(f"{where}: must be one line of text")
    return text


def _probe(where: str, t: Any) -> ProbeId:
    if not isinstance(t, dict):
        raise BadInput(f"{where}: must be a table")
    extra = sorted(set(t) - _PROBE_KEYS)
    if extra:
        raise BadInput(f"{where}.{extra[0]}: unknown field (allowed: "
                       f"{', '.join(sorted(_PROBE_KEYS))})")
    index = t.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < NPROBES:
        raise BadInput(f"{where}.index: must be the probe's channel, 0 to {NPROBES - 1}")
    got: dict[str, str] = {}
    for key in ("serial", "position", "certificate"):
        if key in t:
            got[key] = _text(f"{where}.{key}", t[key])
    if "calibration_due" in t:
        due = t["calibration_due"]
        text = due.isoformat() if isinstance(due, _dt.date) else _text(f"{where}.calibration_due",
                                                                        due)
        try:
            _dt.date.fromisoformat(text)
        except ValueError:
            raise BadInput(f"{where}.calibration_due: {text!r} is not a date "
                           "(YYYY-MM-DD)") from None
        got["calibration_due"] = text
    if "accuracy_c" in t:
        acc = t["accuracy_c"]
        if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 < acc < 10:
            raise BadInput(f"{where}.accuracy_c: must be a number of degC above 0 and below 10")
        got["accuracy"] = f"+-{acc:.2f} degC"
    return ProbeId(index, **got)


def from_table(table: Any, where: str) -> Shipment:
    """A [shipment] table, checked: unknown keys, wrong types and a probe
    named twice are refused with BadInput naming the field."""
    if not isinstance(table, dict):
        raise BadInput(f"{where}: [shipment] must be a table")
    allowed = {k for k, _ in FIELDS} | {"probe"}
    extra = sorted(set(table) - allowed)
    if extra:
        raise BadInput(f"{where}: shipment.{extra[0]}: unknown field (allowed: "
                       f"{', '.join(sorted(allowed))})")
    values = {k: _text(f"{where}: shipment.{k}", table[k]) for k, _ in FIELDS if k in table}
    probes = {i: ProbeId(i) for i in range(NPROBES)}
    listed = table.get("probe", [])
    if not isinstance(listed, list):
        raise BadInput(f"{where}: shipment.probe: must be [[shipment.probe]] tables")
    seen: set[int] = set()
    for k, t in enumerate(listed):
        p = _probe(f"{where}: shipment.probe[{k}]", t)
        if p.index in seen:
            raise BadInput(f"{where}: shipment.probe[{k}].index: probe {p.index} is described "
                           "twice")
        seen.add(p.index)
        probes[p.index] = p
    return Shipment(**values, probes=tuple(probes[i] for i in range(NPROBES)))
