"""Issue 18: a campaign on a real Dask scheduler (distributed.LocalCluster,
two worker processes), one worker killed mid-campaign: no finished run is
lost or flown again, the run it was flying is retried, and every run's log
is the one the local path flies."""

from __future__ import annotations

import os
import signal

import pytest
from distributed import Client, LocalCluster

from podctl import campaign
from podctl import campaign_mission as mission

RUNS = 16
LEG = {"hours": 6, "tick_s": 10}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as c:
        yield c


def _pids(address: str) -> dict[str, int]:
    with Client(address, set_as_default=False) as client:
        return client.run(os.getpid)


def test_a_worker_killed_mid_campaign_loses_no_finished_run(cluster, tmp_path):
    out = tmp_path / "dask"
    before = _pids(cluster.scheduler_address)
    assert len(before) == 2
    victim = sorted(before.values())[0]
    at_kill: dict[str, object] = {}

    def progress(done: int, total: int) -> None:
        if done >= 1 and not at_kill:
            # what is on disk when the worker dies must stay as it is
            at_kill["done"] = done
            at_kill["files"] = {
                p.name: (p.stat().st_mtime_ns, p.read_bytes())
                for p in (out / "runs").glob("seed-*.parquet")
            }
            os.kill(victim, signal.SIGKILL)

    c = campaign.run("nominal", RUNS, out, scheduler=cluster.scheduler_address,
                     plots=False, progress=progress, **LEG)
    assert at_kill and int(at_kill["done"]) < RUNS  # it died mid-campaign
    assert c.lost == [] and [r["seed"] for r in c.rows] == list(range(1, RUNS + 1))
    assert c.summary["where"] == cluster.scheduler_address
    files = at_kill["files"]
    assert isinstance(files, dict) and files
    for name, (mtime, data) in files.items():
        p = out / "runs" / name
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data, name
    # the worker really died: its nanny started another process
    after = _pids(cluster.scheduler_address)
    assert victim not in after.values()
    # the same pure function as the local path: run 5's log, flown here
    plan = mission.Plan.make("nominal", "default", LEG["hours"], LEG["tick_s"])
    _, log = mission.fly(plan, 5)
    assert mission.log_path(out, 5).read_bytes() == log


def test_a_dask_campaign_restarted_skips_what_is_done(cluster, tmp_path):
    out = tmp_path / "again"
    first = campaign.run("nominal", 3, out, scheduler=cluster.scheduler_address,
                         disperse="none", plots=False, **LEG)
    assert first.flown == [1, 2, 3]
    again = campaign.run("nominal", 5, out, scheduler=cluster.scheduler_address,
                         disperse="none", plots=False, **LEG)
    assert again.skipped == [1, 2, 3] and again.flown == [4, 5] and again.passed


def test_a_run_past_its_allowed_failures_is_reported_lost_not_waited_for(tmp_path):
    """With distributed.scheduler.allowed-failures at 0, the runs a killed
    worker held fail at once (KilledWorker): the campaign names them lost,
    keeps the rest, and a restart flies exactly those."""
    import dask

    out = tmp_path / "strict"
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as strict:
        victim = sorted(_pids(strict.scheduler_address).values())[0]
        killed: list[int] = []

        def progress(done: int, total: int) -> None:
            if done >= 1 and not killed:
                killed.append(done)
                os.kill(victim, signal.SIGKILL)

        c = campaign.run("nominal", RUNS, out, scheduler=strict.scheduler_address,
                         disperse="none", plots=False, progress=progress,
                         junit=tmp_path / "ci.xml", **LEG)
        lost = [x["seed"] for x in c.lost]
        assert lost and all(x["reason"].startswith("KilledWorker") for x in c.lost)
        # CI sees each lost run's expectations as errors, never as passes
        import xml.etree.ElementTree as ET

        suite = ET.parse(tmp_path / "ci.xml").getroot().find("testsuite")
        labels = c.plan.expect_labels()
        assert int(suite.get("errors")) == len(labels) * len(lost)
        assert int(suite.get("tests")) == len(labels) * RUNS
        assert not c.passed and c.summary["lost"] == c.lost
        assert sorted(lost + [r["seed"] for r in c.rows]) == list(range(1, RUNS + 1))
        again = campaign.run("nominal", RUNS, out, scheduler=strict.scheduler_address,
                             disperse="none", plots=False, **LEG)
    assert again.flown == lost and again.lost == [] and again.passed
