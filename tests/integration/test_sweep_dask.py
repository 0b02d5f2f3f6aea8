"""A sweep on a Dask cluster gives the same table as on the local process pool (deterministic stand-in)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dask.distributed import LocalCluster

from simulation.sweep import Experiment, SweepInvalid, parse_vary, run_sweep, write_outputs
from tests.sim_run_fixtures import TINY_LAYOUT, stand_in_run_experiment

pytestmark = pytest.mark.integration

EXPERIMENT = Experiment(TINY_LAYOUT, None, hours=2.0, warmup_hours=0.5, replications=3, seed=5)
VARIES = [parse_vary("fleet.agv.count=4..12:2"), parse_vary("fleet.agv.speed=1,1.25")]


def test_dask_local_cluster_matches_the_local_pool(tmp_path: Path) -> None:
    local = run_sweep(EXPERIMENT, VARIES, runner=stand_in_run_experiment, workers=2)
    write_outputs(local, tmp_path / "local")
    done: list[int] = []
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with cluster:
        on_dask = run_sweep(
            EXPERIMENT,
            VARIES,
            runner=stand_in_run_experiment,
            dask_address=cluster.scheduler_address,
            on_point_done=lambda n, total, point: done.append(n),
        )
    write_outputs(on_dask, tmp_path / "dask")
    table = (tmp_path / "local" / "sweep.csv").read_text(encoding="utf-8")
    assert len(table.splitlines()) == 1 + 5 * 2
    assert (tmp_path / "dask" / "sweep.csv").read_text(encoding="utf-8") == table
    assert (tmp_path / "dask" / "sweep.json").read_bytes() == (tmp_path / "local" / "sweep.json").read_bytes()
    assert done == list(range(1, 11))


def test_an_unreachable_scheduler_is_reported() -> None:
    with pytest.raises(SweepInvalid, match=r"--dask tcp://127\.0\.0\.1:1: cannot reach the scheduler"):
        run_sweep(EXPERIMENT, VARIES, runner=stand_in_run_experiment, dask_address="tcp://127.0.0.1:1")
