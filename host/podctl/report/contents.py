"""What the QA report says: the analysis's figures, the narrated events,
podctl.verify's verdict in words, podctl.assess's product verdict with its
reasons, and what the log covers and does not. No files are written here
(podctl.report.render does that).

The integrity verdict is podctl.verify's (the one place that decides it):
the report words its findings and never judges integrity itself. The
product verdict is podctl.assess's; the two stand side by side on the first
page, never merged. A log from a simulated board (the device's seal says
so, or a BOOT event of its log, or the caller: simulated=True) says
SIMULATED - NOT FOR RELEASE on every page, and its product verdict is
never RELEASE.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from podctl import __version__, deviations, fmt, narration, probestats, profile_file
from podctl import manifest as manifests
from podctl.analysis import Analysis, Band, Excursion, Gap, PhaseStats, When, analyse
from podctl.assess import ProductVerdict, assess, log_end
from podctl.deviations import AlarmSpan, Deviation
from podctl.errors import BadInput
from podctl.logdata import LogData, never_set
from podctl.narration import EventRow
from podctl.probestats import ProbeStats
from podctl.report import forecast_part
from podctl.report import unknown as unknown_time
from podctl.report.shipment import ACCURACY_BUDGET, ACCURACY_TOTAL, NOT_STATED, Shipment
from podctl.verdict import CLOCK_TOLERANCE_S, VERIFIED, Verdict
from protocol import log
from protocol import profile as pf
from sim.scenario import DISPOSITIONS

# what a reviewer does with each product verdict (the sign-off box's choices)
DISPOSITION_OF = {
    "RELEASE": "release",
    "REVIEW": "review, then release or reject",
    "REJECT": "reject",
    "INCOMPLETE": "not releasable on this log: reject or investigate",
}


@dataclass
class Check:
    ok: bool
    text: str
    warn: bool = False  # not a failure, but not green either
    code: str = ""  # the verdict's finding code, when the check is a finding


@dataclass
class Report:
    device_id: str
    fw_version: str
    fw_hash: str
    profile_name: str
    profile_ident: str
    manifest_profile_ident: str | None
    log_sha256: str
    log_bytes: int
    blocks: int
    source: str
    log_name: str
    generated: str | None  # the host's clock when the report was made; None: not stamped
    podctl_version: str
    span_start: str
    span_end: str
    span_seconds: float
    clock: list[str]
    verdict: str
    checks: list[Check]
    problems: list[str]
    events: list[EventRow]
    alarms: list[EventRow]
    coverage: list[str]
    notes: list[str]
    analysis: Analysis
    battery_low_v: float
    product: ProductVerdict
    simulated: bool = False  # every page says SIMULATED - NOT FOR RELEASE
    plots: dict[str, Path] = field(default_factory=dict)
    shipment: Shipment = field(default_factory=Shipment)
    report_id: str = ""  # SHA-256 over the log and the device's seal
    sealed: bool = False  # report_id covers a seal
    fw_bundle: str = "unknown"  # the firmware bundle hash the device's seal states
    settings: dict[str, Any] = field(default_factory=dict)  # the profile, in its TOML units
    alarm_spans: list[AlarmSpan] = field(default_factory=list)  # podctl.deviations'
    deviations: list[Deviation] = field(default_factory=list)  # every one, in time order
    probe_stats: list[ProbeStats] = field(default_factory=list)  # podctl.probestats'
    # every span the per-phase table counts as unknown (podctl.report.unknown)
    unknown: list[unknown_time.Span] = field(default_factory=list)
    # "Forecast from the log's end" when the log ends before recovery (None:
    # the mission reached its end); a model, not evidence
    forecast: forecast_part.Part | None = None
    clock_offset_s: float | None = None  # the device's clock less the host's at the pull
    clock_tolerance_s: int = CLOCK_TOLERANCE_S
    raw_probes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # degC, as read
    channels: dict[str, np.ndarray] = field(default_factory=dict)  # the log's other channels
    accuracy_budget: tuple[tuple[str, str], ...] = ACCURACY_BUDGET
    accuracy_total: str = ACCURACY_TOTAL
    not_stated: str = NOT_STATED

    @property
    def green(self) -> bool:
        return self.verdict == VERIFIED

    @property
    def failure(self) -> str:
        """The first reason the log failed verification, or ''."""
        if self.problems:
            return self.problems[0]
        return next((c.text for c in self.checks if not c.ok and not c.warn), "")

    @property
    def excluded(self) -> np.ndarray:
        """(n, 4): the probe read something the firmware did not trust."""
        return ~np.isnan(self.raw_probes) & np.isnan(self.probes)

    def phase_label(self, p: int) -> str:
        return f"{p} {self.bands[p].name}" if 0 <= p < len(self.bands) else "-"

    def moment(self, w: When | None) -> str:
        """A moment in words: its UTC, or for a boot whose clock was never
        set its boot and uptime with the UTC bounds the analysis gives."""
        if w is None:
            return "-"
        if not math.isnan(w.utc):
            return fmt.utc(w.utc)
        lo, hi = self.analysis.utc_bounds(w.boot, w.t, w.utc)
        if math.isnan(lo) and math.isnan(hi):
            return str(w)
        if math.isnan(hi):
            return f"{w}, after {fmt.utc(lo)}"
        if math.isnan(lo):
            return f"{w}, before {fmt.utc(hi)}"
        return f"{w}, between {fmt.utc(lo)} and {fmt.utc(hi)}"

    def event_moment(self, e: EventRow) -> str:
        return self.moment(When(e.boot, float(e.t), e.utc))

    @property
    def clock_findings(self) -> list[str]:
        return [c.text for c in self.checks if c.code == "clock"]

    @property
    def dispositions(self) -> tuple[str, ...]:
        """The sign-off's choices: the product verdict's own words, as the
        scenarios' [disposition] tables use them (INCOMPLETE is not a
        disposition: a batch that cannot be judged is not released)."""
        return DISPOSITIONS

    @property
    def disposition_words(self) -> str:
        """Each product verdict beside the disposition it leads to, the
        report's own first: INCOMPLETE has no disposition of its own."""
        mine = DISPOSITION_OF[self.product.status]
        others = "; ".join(f"{k}: {v}" for k, v in DISPOSITION_OF.items()
                           if k != self.product.status)
        return f"{self.product.status}: {mine} (otherwise {others})"

    @property
    def battery_margin(self) -> str:
        """The battery at the end of the log against its alarm level, in words."""
        if not len(self.battery):
            return ""
        last = float(self.battery[-1])
        low = self.battery_low_v
        side = "above" if last >= low else "below"
        return (f"Battery at the end of the log {last:.2f} V, {abs(last - low):.2f} V {side} "
                f"its alarm level of {low:.2f} V")

    def max_hold_s(self, index: int) -> float:
        """The phase's maximum hold (analysis.Band.max_hold_s), s; 0: none."""
        return float(self.bands[index].max_hold_s) if 0 <= index < len(self.bands) else 0.0

    def hold_margins(self) -> list[str]:
        """Each phase with a maximum hold: how long it lasted against it."""
        out = []
        for ps in self.phases:
            i = ps.band.index
            limit = self.max_hold_s(i)
            if not limit or ps.start is None:
                continue
            left = limit - ps.seconds
            least = "at least " if ps.unbounded else ""
            out.append(f"phase {i} {ps.band.name} lasted {least}{fmt.dur(ps.seconds)} against "
                       f"its maximum hold of {fmt.dur(limit)}: "
                       + (f"{fmt.dur(left)} to spare" if left >= 0
                          else f"{least}{fmt.dur(-left)} over"))
        return out

    def probe_rows(self) -> list[ProbeStats]:
        """Each probe's and the estimate's figures over the whole mission,
        then each phase's where a probe read out of band or was excluded."""
        whole = [r for r in self.probe_stats if r.phase == probestats.WHOLE and r.readings]
        marked = [r for r in self.probe_stats if r.phase != probestats.WHOLE and r.readings
                  and (r.above_s > 0 or r.below_s > 0 or r.excluded_s > 0)]
        return whole + marked

    def probe_use(self, i: int) -> str:
        """How much the probe was read, and for how long it was excluded."""
        read = ~np.isnan(self.raw_probes[:, i]) if len(self.raw_probes) else np.zeros(0, bool)
        out = self.excluded[:, i] if len(self.raw_probes) else read
        n = len(read)
        text = f"read in {int(read.sum())} of {n} records"
        if out.any():
            text += (f"; excluded while reading in {int(out.sum())} records "
                     f"({fmt.dur(float(self.dt[out].sum()))})")
        return text

    def alarm_settings(self) -> list[tuple[str, str]]:
        """The profile's mission-wide thresholds, as a reviewer reads them."""
        s = self.settings
        if not s:
            return []
        pr, al = s["probes"], s["alarms"]
        shock = f"{al['shock_g']:g} g" if al["shock_g"] else "none (0: no shock alarm)"
        stuck = (f"a reading unchanged for {fmt.dur(pr['stuck_s'])}" if pr["stuck_s"]
                 else "not checked (0)")
        return [
            ("Cumulative allowance", f"{fmt.dur(al['cumulative_min'] * 60)} out of band over the "
                                     "whole mission"),
            ("Shock alarm", shock),
            ("Lid alarm", f"lid open longer than {fmt.dur(al['lid_open_s'])}"),
            ("Battery low alarm", f"below {al['battery_low_v']:.2f} V"),
            ("Minimum trusted probes", f"{s['min_probes']}; fewer: the probes alarm and safe "
                                       f"mode '{s['safe_mode']}'"),
            # a temperature difference: in K, as every exclusion states it
            ("Probe disagreement limit", f"{pr['disagree_c']:g} K from the trusted probes' "
                                         "median: the probe is excluded"),
            ("Probe plausible range", f"{pr['min_c']:g} to {pr['max_c']:g} degC; faster than "
                                      f"{pr['rate_max_c_per_s']:g} degC/s is a fault"),
            ("Stuck probe", stuck),
            ("Probe trusted again", f"after {fmt.dur(pr['recover_s'])} of good readings"),
            ("Log full", f"policy '{s['storage_full']}'"),
        ]

    def phase_extras(self, index: int) -> list[tuple[str, Any]]:
        """Settings of a phase the acceptance table has no column for (a
        field a newer profile adds), so none goes unshown."""
        phases = self.settings.get("phase", [])
        if index >= len(phases):
            return []
        known = {"name", "duration_s", "duration_h", "until_command", "setpoint_c", "band_c",
                 "absolute_c", "excursion_delay_min", "sample_interval_s", "cool", "heat",
                 "peltier_heats", "max_hold_h"}
        return [(k, v) for k, v in phases[index].items() if k not in known]

    @property
    def unknown_stated_s(self) -> float:
        """What the Data gaps section's rows state together."""
        return unknown_time.total(self.unknown)

    @property
    def unknown_unlisted_s(self) -> float:
        """The per-phase table's unknown time no row of Data gaps accounts
        for (0 when they agree): shown, never hidden."""
        return self.mission.unknown_s - self.unknown_stated_s

    def unknown_why(self, u: unknown_time.Span) -> str:
        """Why a span of the Data gaps section has no valid reading."""
        g = u.gap
        if u.kind == unknown_time.NO_READING:
            return f"{u.records} record(s) without any trusted probe"
        if u.kind == unknown_time.TOO_FEW:
            return (f"{u.records} record(s) with fewer trusted probes than the profile's minimum "
                    f"of {self.analysis.min_probes}")
        if u.kind == unknown_time.PHASE_START:
            return "the phase began before its first reading (the next tick)"
        assert g is not None
        if g.tail:
            return "the log ends before the device's end of it (its seal): not in the log"
        if getattr(g, "head", False):
            return "the board started before its first reading (the first tick)"
        if g.restart:
            return unknown_time.restart_words(g)
        return "no records"

    def unknown_length(self, u: unknown_time.Span) -> str:
        """A span's length as the section states it (what its sum adds)."""
        g = u.gap
        if u.seconds is not None:
            return fmt.dur(u.seconds)
        if g is not None and g.shared is not None:  # its budget, once in the total
            return unknown_time.shared_words(g.shared)
        if g is not None and g.at_most is not None:
            return f"at most {fmt.dur(g.at_most)}"
        host = getattr(g, "host_at_most", None)
        text = (f"at least {fmt.dur(u.least_s)}, as the board's own uptime shows it on; "
                "nothing clocked after it bounds it")
        if host is not None:
            text += (f" (at most {fmt.dur(host)} by the host's clock at the pull: "
                     "not authenticated)")
        return text

    @property
    def over_plan(self) -> list[PhaseStats]:
        return [p for p in self.phases if p.over_plan_s > 0]

    @property
    def not_reached(self) -> list[PhaseStats]:
        return [p for p in self.phases if p.start is None]

    def category_rows(self) -> list[tuple[str, str, list[EventRow]]]:
        return [(key, title, [e for e in self.events if e.category == key])
                for key, title in narration.CATEGORIES]

    # the analysis's figures, under the names the template and plots use
    @property
    def bands(self) -> list[Band]:
        return self.analysis.bands

    @property
    def phases(self) -> list[PhaseStats]:
        return self.analysis.phases

    @property
    def mission(self) -> PhaseStats:
        return self.analysis.mission

    @property
    def excursions(self) -> list[Excursion]:
        return self.analysis.excursions

    @property
    def gaps(self) -> list[Gap]:
        return self.analysis.gaps

    @property
    def utc(self) -> np.ndarray:
        return self.analysis.utc

    @property
    def boot(self) -> np.ndarray:
        return self.analysis.boot

    @property
    def t(self) -> np.ndarray:
        return self.analysis.t

    @property
    def estimate(self) -> np.ndarray:
        return self.analysis.estimate

    @property
    def probes(self) -> np.ndarray:
        return self.analysis.probes

    @property
    def phase(self) -> np.ndarray:
        return self.analysis.phase

    @property
    def dt(self) -> np.ndarray:
        return self.analysis.dt

    @property
    def battery(self) -> np.ndarray:
        return self.analysis.battery


def profile_name(profile: pf.Profile) -> str:
    raw = bytes(profile.header[pf.H_NAME])
    return raw.split(b"\x00", 1)[0].decode(errors="replace")


def report_id(raw: bytes, seal: Any) -> str:
    """SHA-256 over the log and the device's seal: names this report's
    evidence, so two reports with one id judge the same bytes."""
    h = hashlib.sha256(raw)
    if seal is not None:
        h.update(seal.to_bytes())
    return h.hexdigest()


def integrity_checks(verdict: Verdict) -> list[Check]:
    """The verdict's findings as the report's checklist: one line per
    finding, and what held when nothing failed."""
    found = {f.code for f in verdict.findings}
    checks = [Check(f.severity != "fail", str(f), warn=f.severity == "warn", code=f.code)
              for f in verdict.findings]
    readable = len(verdict.readable)
    if not found & {"unreadable", "seq_gap", "seq_back", "empty"}:
        checks.insert(0, Check(True, f"{readable} blocks: CRC, layout and sequence intact"))
    if verdict.authenticated and "mac" not in found:
        unproven = verdict.unproven
        some = (f" for {readable - unproven} of {readable} blocks; {unproven} block(s) chain to a "
                "block that is not in the log and are not proven") if unproven else ""
        checks.insert(1, Check(True, "MAC chain verified with the device's key" + some))
    ends = {"tail_missing", "tail_extra", "last_mac", "hash", "head_missing", "head_extra"}
    if verdict.end_checked and not found & ends:
        # without a seal no device reported anything (a dead board's
        # flash): the end checked is the one the manifest states
        who = "the device reported" if getattr(verdict, "seal", None) is not None \
            else "the manifest states"
        checks.append(Check(True, "the log is the file pulled (SHA-256) and ends at the block and "
                                  f"MAC {who}"))
    return checks


def _anchor(manifest: dict[str, Any]) -> Any:
    """The pull's clock reading from the manifest, or None where there is no
    manifest (a bare log, a dead board's flash) or it is not one of ours:
    the report stands without it."""
    try:
        return manifests.anchor(manifest) if manifest else None
    except BadInput:
        return None


def _coverage(a: Analysis, verdict: Verdict, manifest: dict[str, Any]) -> list[str]:
    """What the log covers, in words: its records, boots without a clock,
    where it ends against the device's seal, and what damage cost. The
    manifest's anchor (unauthenticated) only adds a late bound labelled as
    the host's clock where the log's own leaves a boot open."""
    lines = []
    if a.records:
        lines.append(f"{a.records} sample records in {a.boots} boot(s), "
                     f"{fmt.dur(a.recorded_s)} of recording")
    else:
        lines.append("the log holds no sample record")
    for u in a.unclocked:
        around = []
        if not math.isnan(u.after_utc):
            around.append(f"after {fmt.utc(u.after_utc)}")
        if not math.isnan(u.before_utc):
            around.append(f"before {fmt.utc(u.before_utc)}")
        held = (f"its {u.records} record(s) ({fmt.dur(u.seconds)}) have no UTC" if u.records
                else "it has no sample record (its open block was lost at a reset), only events "
                     "without UTC")
        bounded = not (math.isnan(u.earliest_utc) or math.isnan(u.latest_utc))
        plotted = "" if not u.records else (
            f"; the plots hatch the span it lies in and draw its records at the middle of it "
            f"(+-{fmt.dur((u.latest_utc - u.earliest_utc) / 2)})" if bounded
            else f"; nothing in the log bounds it in UTC, so its records are on a plot of their "
                 f"own against its uptime (boot {u.boot})")
        host = ""
        if not bounded and not math.isnan(u.host_latest_utc):
            host = (f"; by the host's clock at the pull (the manifest's, unauthenticated) it "
                    f"started no later than {fmt.utc(u.host_latest_utc)}")
        lines.append(
            f"{never_set(u.boot)}: {held}"
            + (f"; they lie {' and '.join(around)}" if around else "")
            + ("; they count in the figures" if u.records else "")
            + (f" (boot {u.boot} started between {fmt.utc(u.earliest_utc)} and "
               f"{fmt.utc(u.latest_utc)})" if bounded else "")
            + plotted + host)
    last = a.last
    tail = next((g for g in a.gaps if g.tail), None)
    missing = "" if tail is None else (
        f"; the last {fmt.dur(tail.seconds)} before it were not in a sealed block and are not "
        "in the log")
    if last is not None:
        battery = float(a.battery[-1])
        if getattr(verdict, "seal", None) is not None:
            if verdict.ok:
                lines.append(f"sealed by the device at {a.until}{missing}")
            else:
                lines.append(f"sealed by the device at {a.until}; the readable part of the log "
                             f"ends at {last}")
        else:
            source = manifest.get("source", "unknown source")
            rec = When(int(a.boot[-1]), float(a.t[-1]), float(a.utc[-1]))
            lines.append(f"the log's last record is at {rec}, battery {fmt.degc(battery, 2)} V, "
                         f"and the figures count its reading for its sampling interval, to "
                         f"{last}; no seal of the device says where the log ends ({source}): "
                         "nothing after that is recorded, so the payload's temperature after "
                         "it is unknown")
    for r in a.lost:
        span = ""
        if r.last_before is not None and r.first_after is not None:
            span = (f"; the records between {r.last_before} and {r.first_after} are lost"
                    + (f" ({fmt.dur(r.seconds)})" if not math.isnan(r.seconds) else ""))
        lines.append(f"bytes {r.offset} to {r.offset + r.size} of the log cannot be read "
                     f"({r.why}): their records are not in this report"
                     + ("" if r.at_end else span + "; decoding resumes after them"))
    return lines


def build(
    data: LogData,
    verdict: Verdict,
    profile: pf.Profile,
    manifest: dict[str, Any],
    *,
    log_name: str = "log.bin",
    generated_utc: float | None = None,
    simulated: bool = False,
    shipment: Shipment | None = None,
    forecast: forecast_part.Options | None = None,
) -> Report:
    """The report's contents from a loaded log, podctl.verify's verdict on
    it, the profile it ran and the manifest beside it. No files are written.
    simulated: the log is from a simulated board (also when the verdict's
    seal or a BOOT event of the log says so). The log ends where the device
    says (assess.log_end: the verdict's checked seal; without one the end
    is not stated). generated_utc: the host's clock when the report is
    made, shown as such; None leaves it out, so the same log and seal give
    the same report byte for byte. shipment: the consignment and its
    probes (not stated when None). forecast: how to fly the forecast when
    the log ends before recovery (report.forecast_part; None or runs 0: the
    section says so and flies none)."""
    end = log_end(verdict, manifest)
    simulated = simulated or bool(getattr(verdict, "simulated", False))
    # the pull's host clock bounds an unclocked boot's late side, shown as
    # host-clock evidence in the coverage only (analysis: never a figure)
    a = analyse(data, profile, until=end, anchor=_anchor(manifest))
    # a BOOT event that marks a simulated board makes the product say so too
    product = assess(a, profile, data, simulated=simulated,
                     unproven=getattr(verdict, "unproven_blocks", ()),
                     clock_offset_s=getattr(verdict, "clock_offset_s", None))
    notes: list[str] = []
    if a.unjudged_phases:
        notes.append(f"records in phase(s) {a.unjudged_phases}, which the profile does not have: "
                     "not judged")
    if a.before_first_phase:
        notes.append(f"{a.before_first_phase} record(s) before the first PHASE event: not judged")
    own_ident = pf.ident(profile.data)
    m_ident = manifest.get("profile_ident")
    if m_ident is None:
        notes.append("the manifest names no profile: the profile given could not be checked "
                     "against the device")
    # with the profile each probe exclusion names the limit it broke
    events = narration.narrate(data, a.bands, own_ident, profile=profile)
    seal = getattr(verdict, "seal", None)
    fw_seen = sorted({narration.version(e.value) for e in data.events if e.code == log.EV_BOOT})
    if fw_seen and manifest.get("fw_version") and fw_seen != [manifest["fw_version"]]:
        notes.append(f"the log's BOOT events name firmware {', '.join(fw_seen)}; the manifest "
                     f"says {manifest['fw_version']}")
    return Report(
        device_id=str(manifest.get("device_id", "unknown")),
        fw_version=str(manifest.get("fw_version", "unknown")),
        fw_hash=str(manifest.get("fw_hash", "unknown")),
        profile_name=profile_name(profile),
        profile_ident=f"{own_ident:08x}",
        manifest_profile_ident=m_ident,
        log_sha256=data.sha256,
        log_bytes=len(data.raw),
        blocks=len(data.blocks),
        source=str(manifest.get("source", "unknown")),
        log_name=log_name,
        generated=None if generated_utc is None else fmt.utc(generated_utc),
        podctl_version=__version__,
        span_start=fmt.utc(a.start_utc),
        span_end=fmt.utc(a.end_utc),
        span_seconds=a.end_utc - a.start_utc,
        clock=clock_lines(data),
        verdict=verdict.status,
        checks=integrity_checks(verdict),
        problems=[str(f) for f in verdict.failures],
        events=events,
        alarms=narration.alarms_raised(events),
        coverage=_coverage(a, verdict, manifest),
        notes=notes,
        analysis=a,
        battery_low_v=profile.header[pf.H_BATTERY_LOW] / 1000,
        product=product,
        simulated=simulated or product.simulated,
        shipment=shipment or Shipment(),
        report_id=report_id(data.raw, seal),
        sealed=seal is not None,
        fw_bundle=seal.fw_hash.hex() if seal is not None else str(manifest.get("fw_hash",
                                                                               "unknown")),
        settings=profile_file.decompile(profile.data),
        alarm_spans=deviations.alarm_spans(data, a, profile),
        deviations=deviations.deviations(
            data, a, verdict, battery_low_v=profile.header[pf.H_BATTERY_LOW] / 1000,
            profile=profile),
        probe_stats=probestats.probe_stats(data, a),
        unknown=unknown_time.spans(data, a),
        forecast=forecast_part.make(data, profile, a, forecast),
        clock_offset_s=getattr(verdict, "clock_offset_s", None),
        raw_probes=_raw_probes(data),
        channels={k: data.samples[k].astype(float) for k in ("heater", "peltier", "humidity",
                                                           "pressure")
                  if k in (data.samples.dtype.names or ())},
    )


def clock_lines(data: LogData) -> list[str]:
    """The log's clock notes, a boot whose only TIME_SET came after all its
    records (the hand-over sync) said as what it is: its records' UTC is
    back-dated from that setting, not set while they were made."""
    s = data.samples
    out = []
    for line in data.clock:
        head, _, rest = line.partition(": ")
        boot = int(head[5:]) if head.startswith("boot ") and head[5:].isdigit() else None
        sets = [e for e in data.events if e.code == log.EV_TIME_SET and e.boot == boot]
        mine = s["t"][s["boot"] == boot] if len(s) else np.zeros(0)
        if (rest.startswith("UTC from the device's TIME_SET") and len(sets) == 1
                and len(mine) and sets[0].t > mine.max()):
            e = sets[0]
            line = (f"boot {boot}: UTC back-dated from the TIME_SET at {fmt.utc(e.value)} "
                    f"(uptime {e.t} s), after all its records")
        out.append(line)
    return out


def _raw_probes(data: LogData) -> np.ndarray:
    s = data.samples
    if not len(s):
        return np.zeros((0, 4))
    return np.column_stack([s[f"probe{i}"] for i in range(4)]).astype(float)
