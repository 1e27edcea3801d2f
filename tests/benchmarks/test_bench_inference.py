"""benchmarks/bench_inference.py at toy size: both models time on the named device, and a bad
device is a clear error."""

from __future__ import annotations

import re
import sys

import pytest
from conftest import SMALL_MODEL, load_benchmark

from fashionvision.errors import ConfigError


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_inference")


def test_prints_both_times_their_ratio_and_the_training_iteration(bench, monkeypatch, capsys):
    argv = ["bench", "--images", "2", "--device", "cpu", "--train-batch", "2", *SMALL_MODEL]
    monkeypatch.setattr(sys, "argv", argv)
    bench.main()
    out = capsys.readouterr().out
    assert ", cpu" in out.splitlines()[0]
    times = [float(t) for t in re.findall(r"([\d.]+) ms/image", out)]
    assert len(times) == 2 and all(t > 0 for t in times)
    ratio = float(re.search(r"ratio ours/torchvision: ([\d.]+)x", out).group(1))
    # The times print to 0.1 ms and the ratio to 0.01: the ratio must lie within what the
    # printed times allow once their rounding is undone.
    low = (times[1] - 0.05) / (times[0] + 0.05) - 0.005
    high = (times[1] + 0.05) / max(times[0] - 0.05, 1e-9) + 0.005
    assert low <= ratio <= high
    assert len(re.findall(r"training iteration, batch 2, .*: [\d.]+ s/iter", out)) == 2


def test_cuda_without_cuda_names_the_flag(bench, monkeypatch):
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["bench", "--device", "cuda", *SMALL_MODEL])
    with pytest.raises(ConfigError, match="^--device: cuda requested"):
        bench.main()
