"""Side by side: the per-category box and mask AP (and the headline numbers) of benchmark runs
scored on the same split, from the ``metrics.json`` that `bench_train_tiny.py` and
`bench_parsing_tiny.py` write (or `fashionvision evaluate --json`).

    python benchmarks/compare_runs.py resnet18=/tmp/s10/base/metrics.json \
        se_resnet18=/tmp/s10/se/metrics.json [--key AP50]

Each argument is ``NAME=FILE``; the first run is the reference of the difference column (shown
with two runs).  Categories are the union of the runs' per-category rows, in the first run's
order; a run without a row shows ``-``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TASKS = (("bbox", "box"), ("segm", "mask"))
HEADLINE = (("bbox", "AP"), ("bbox", "AP50"), ("segm", "AP"), ("segm", "AP50"),
            ("landmarks", "AP"), ("retrieval", "top20"))  # fmt: skip


def parse_run(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=metrics.json")
    return name, Path(path)


def load_run(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"error: {path}: {exc}") from None


def value(metrics: Mapping[str, Any], *keys: str) -> float | None:
    node: Any = metrics
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return float(node) if node is not None else None


def cell(v: float | None) -> str:
    return "-" if v is None or v != v or v < 0 else f"{v:.3f}"  # nan / -1: not scored


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines)


def compare(runs: Sequence[tuple[str, Mapping[str, Any]]], key: str) -> str:
    names = [name for name, _ in runs]
    two = len(runs) == 2
    categories: list[str] = []
    for _, m in runs:
        for task, _ in TASKS:
            for c in (m.get(task) or {}).get("per_category", {}):
                if c not in categories:
                    categories.append(c)
    header = ["category"]
    for _, label in TASKS:
        header += [f"{label} {key} {n}" for n in names] + ([f"{label} diff"] if two else [])
    rows = []
    for c in [*categories, "overall"]:
        row = [c]
        for task, _ in TASKS:
            vals = [
                value(m, task, key) if c == "overall" else value(m, task, "per_category", c, key)
                for _, m in runs
            ]
            row += [cell(v) for v in vals]
            if two:
                a, b = vals
                row.append("-" if a is None or b is None else f"{b - a:+.3f}")
        rows.append(row)
    head = [[f"{task}.{k}", *(cell(value(m, task, k)) for _, m in runs)] for task, k in HEADLINE]
    times = [
        "train_s",
        *("-" if (t := value(m, "train_s")) is None else f"{t:.0f}" for _, m in runs),
    ]
    return (
        table(["metric", *names], [*head, times])
        + f"\n\nPer category ({key}):\n"
        + table(header, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=parse_run, metavar="NAME=FILE")
    parser.add_argument("--key", default="AP", help="per-category statistic (AP, AP50, AP75)")
    args = parser.parse_args()
    print(compare([(name, load_run(path)) for name, path in args.runs], args.key))


if __name__ == "__main__":
    main()
