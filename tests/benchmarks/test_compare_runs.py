"""benchmarks/compare_runs.py: per-category rows side by side, differences, missing rows."""

from __future__ import annotations

import json

import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def compare_runs():
    return load_benchmark("compare_runs")


def run(box: dict[str, float], overall: float, train_s: float | None = None) -> dict:
    per_category = {name: {"AP": ap} for name, ap in box.items()}
    out = {"bbox": {"AP": overall, "AP50": 0.5, "per_category": per_category}}
    if train_s is not None:
        out["train_s"] = train_s
    return out


def test_two_runs_side_by_side_with_the_difference(compare_runs):
    a = run({"skirt": 0.25, "vest": 0.5}, 0.4, 100.4)
    b = run({"skirt": 0.5, "sling": 0.125}, 0.3)
    text = compare_runs.compare([("a", a), ("b", b)], "AP")
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line}
    assert rows["skirt"][1:4] == ["0.250", "0.500", "+0.250"]
    assert rows["vest"][1:4] == ["0.500", "-", "-"]  # absent in b: no difference
    assert rows["sling"][1:4] == ["-", "0.125", "-"]
    assert rows["overall"][1:4] == ["0.400", "0.300", "-0.100"]
    assert rows["train_s"][1:] == ["100", "-"]
    assert rows["segm.AP"][1:] == ["-", "-"]  # no mask numbers in either run


def test_command_line(compare_runs, tmp_path, capsys, monkeypatch):
    for name, data in (("a", run({"skirt": 0.25}, 0.25)), ("b", run({"skirt": 0.75}, 0.75))):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    argv = ["compare_runs.py", f"a={tmp_path / 'a.json'}", f"b={tmp_path / 'b.json'}"]
    monkeypatch.setattr("sys.argv", argv)
    compare_runs.main()
    assert "+0.500" in capsys.readouterr().out
    monkeypatch.setattr("sys.argv", ["compare_runs.py", f"a={tmp_path / 'missing.json'}"])
    with pytest.raises(SystemExit, match="missing.json"):
        compare_runs.main()
