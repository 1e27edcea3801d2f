"""benchmarks/bench_train_procs.py: variant specs, the commands it runs, reading metrics.csv."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def procs():
    return load_benchmark("bench_train_procs")


def test_variant_spec_gives_processes_threads_and_overrides(procs) -> None:
    v = procs.parse_variant("ddp=2x1:solver.batch_size=8 model.norm=bn")
    assert (v.name, v.procs, v.threads) == ("ddp", 2, 1)
    assert v.overrides == ["solver.batch_size=8", "model.norm=bn"]
    assert v.batch_size == 8  # the total over the ranks, as solver.batch_size is
    plain = procs.parse_variant("threads=1x2")
    assert (plain.procs, plain.threads, plain.overrides, plain.batch_size) == (1, 2, [], 4)
    for bad in ("2x1", "a=2", "a=2x", "a=x1", "a=0x1", "a=1x0", "=1x1"):
        with pytest.raises(ValueError, match="--variant"):
            procs.parse_variant(bad)


def test_one_process_runs_the_trainer_and_several_run_under_torchrun(procs) -> None:
    one = procs.command(procs.parse_variant("t=1x2"), Path("/d"), 30, Path("/o"))
    two = procs.command(procs.parse_variant("p=2x1:model.norm=bn"), Path("/d"), 30, Path("/o"))
    assert one[:4] == [sys.executable, "-m", "fashionvision", "train"]
    assert two[:5] == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
    ]  # fmt: skip
    for cmd in (one, two):
        assert {"data.root=/d", "train.max_iters=30", "train.log_every=1"} <= set(cmd)
        assert cmd[-2:] == ["--out", "/o"]
    assert "model.norm=bn" in two


def test_iteration_times_are_the_time_column(procs, tmp_path: Path) -> None:
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,iteration,loss,time\n1,1,2.0,0.5\n1,2,1.9,0.25\n")
    assert procs.iteration_times(csv) == [0.5, 0.25]
