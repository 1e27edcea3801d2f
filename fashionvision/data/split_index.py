"""A compact, cached index of a parsed DeepFashion2-format split.

Parsing the ~191k-391k per-image JSON files of DeepFashion2 train takes minutes; this module stores
the parse result once as flat numpy arrays (one uncompressed ``.npz``, no pickle) and rebuilds the
records from it in a fraction of that time.

Cache key: the sorted (name, size, mtime_ns) of every entry of ``annos/`` and ``image/`` (what
``os.scandir`` gives cheaply) plus `FORMAT_VERSION`; any added, removed, resized or touched file
invalidates the index.  The index lives in ``SPLIT/.fashionvision_index/`` and, when the split is
read-only, in ``$XDG_CACHE_HOME/fashionvision/index/`` (default ``~/.cache``).

What is cached is a whole `SplitReport`: the usable records (bad items already dropped) *and* every
problem found, so strict and lenient loads of an unchanged split both skip the parse.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionvision.errors import Problem
from fashionvision.io_utils import atomic_write, gc_paused
from fashionvision.structures import Garment, ImageAnnotation

FORMAT_VERSION = 1
INDEX_DIR_NAME = ".fashionvision_index"
_SOURCES: tuple[str, str] = ("shop", "user")


@dataclass
class SplitReport:
    """Result of checking a split: usable records plus every problem found.

    `records` are sorted by image id; files with file-level problems are absent from them and
    items with problems are dropped from their image.
    """

    records: list[ImageAnnotation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    files_with_errors: int = 0
    files_skipped: int = 0
    items_skipped: int = 0


@dataclass(frozen=True)
class DirListing:
    """Sorted names of the ``.json`` annotation files of a split and the split's cache key."""

    json_names: list[str]
    key: str


def scan_split(split_dir: Path) -> DirListing:
    """List ``split_dir/annos/*.json`` and fingerprint ``annos/`` and ``image/``.

    Raises OSError when ``annos/`` cannot be listed (the caller turns it into a user error).
    """
    digest = hashlib.sha1(f"fashionvision-index-v{FORMAT_VERSION}".encode())
    json_names: list[str] = []
    for sub in ("annos", "image"):
        directory = split_dir / sub
        if sub == "image" and not directory.is_dir():
            digest.update(b"\0no-image-dir\0")
            continue
        entries = []
        with os.scandir(directory) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                st = entry.stat()
                entries.append((entry.name, st.st_size, st.st_mtime_ns))
        entries.sort()
        digest.update(f"\0{sub}\0".encode())
        digest.update("\n".join(f"{n}\t{s}\t{m}" for n, s, m in entries).encode())
        if sub == "annos":
            json_names = [n for n, _, _ in entries if n.endswith(".json")]
    return DirListing(json_names=json_names, key=digest.hexdigest())


def index_paths(split_dir: Path) -> list[Path]:
    """Candidate index files, in order: inside the split, then in the user cache directory."""
    resolved = str(split_dir.resolve())
    name = hashlib.sha1(resolved.encode()).hexdigest()[:20] + ".npz"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [
        split_dir / INDEX_DIR_NAME / "index.npz",
        cache_home / "fashionvision" / "index" / name,
    ]


def load_index(split_dir: Path, key: str) -> SplitReport | None:
    """The cached report of `split_dir` if an index with cache key `key` exists, else None.

    A corrupt or outdated index is treated as absent (it is rebuilt and overwritten).
    """
    for path in index_paths(split_dir):
        if not path.is_file():
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) != key:
                    continue
                arrays = {name: data[name] for name in data.files}
            with gc_paused():
                report = decode_report(arrays)
            _rebase_problem_paths(report, str(arrays["split"]), str(split_dir))
            return report
        except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile, EOFError):
            continue
    return None


def _rebase_problem_paths(report: SplitReport, old: str, new: str) -> None:
    """Show problem paths under the split path as spelled now (e.g. relative vs absolute),
    not as spelled when the index was written."""
    if old == new:
        return
    report.problems = [
        Problem(new + p.path[len(old) :], p.field, p.message) if p.path.startswith(old) else p
        for p in report.problems
    ]


def save_index(
    split_dir: Path, key: str, report: SplitReport, arrays: dict[str, np.ndarray] | None = None
) -> Path | None:
    """Write the index atomically to the first writable candidate; returns its path or None.

    `arrays`, if given, must be `encode_report(report)` (saves re-encoding it).
    """
    arrays = dict(encode_report(report) if arrays is None else arrays)
    arrays["key"] = np.array(key)
    arrays["split"] = np.array(str(split_dir))
    for path in index_paths(split_dir):
        try:
            atomic_write(path, lambda f: np.savez(f, **arrays), mode="wb")
            return path
        except OSError:
            continue
    return None


def encode_report(report: SplitReport) -> dict[str, np.ndarray]:
    """Flatten a report into arrays.

    Images (N): ids, sizes, source, pair id, file names and item offsets ``item_start`` [N+1].
    Items (M): category [M], bbox [M,4] xyxy, attrs [M,5] (style, scale, occlusion, zoom_in,
    viewpoint), landmark offsets [M+1] into landmarks [L,3], polygon offsets [M+1] into
    polygon coordinate offsets [P+1] into coords [C].
    """
    items = [g for rec in report.records for g in rec.items]
    polys = [poly for g in items for poly in g.segmentation]
    problems = [(p.path, p.field, p.message) for p in report.problems]
    return {
        "image_id": np.array([r.image_id for r in report.records], dtype=np.int64),
        "size": np.array([(r.width, r.height) for r in report.records], np.int64).reshape(-1, 2),
        "source": np.array([_SOURCES.index(r.source) for r in report.records], dtype=np.uint8),
        "pair_id": np.array([r.pair_id for r in report.records], dtype=np.int64),
        "file_name": np.array([r.file_name for r in report.records], dtype=str),
        "item_start": _offsets([len(r.items) for r in report.records]),
        "category": np.array([g.category_id for g in items], dtype=np.int64),
        "bbox": np.array([g.bbox for g in items], dtype=np.float64).reshape(-1, 4),
        "attrs": np.array(
            [(g.style, g.scale, g.occlusion, g.zoom_in, g.viewpoint) for g in items], np.int64
        ).reshape(-1, 5),
        "lm_start": _offsets([len(g.landmarks) for g in items]),
        "landmarks": np.concatenate([np.zeros((0, 3))] + [g.landmarks for g in items]),
        "poly_start": _offsets([len(g.segmentation) for g in items]),
        "coord_start": _offsets([len(p) for p in polys]),
        "coords": np.fromiter((v for p in polys for v in p), dtype=np.float64),
        "problems": np.array(problems, dtype=str).reshape(-1, 3),
        "counts": np.array(
            [
                report.files_checked,
                report.files_with_errors,
                report.files_skipped,
                report.items_skipped,
            ],
            dtype=np.int64,
        ),
    }


def decode_report(a: dict[str, np.ndarray]) -> SplitReport:
    """Inverse of `encode_report` (landmarks are views into one shared array)."""
    coords = a["coords"].tolist()
    cs = a["coord_start"].tolist()
    polygons = [coords[cs[k] : cs[k + 1]] for k in range(len(cs) - 1)]
    ps, ls = a["poly_start"].tolist(), a["lm_start"].tolist()
    bboxes, attrs, cats = a["bbox"].tolist(), a["attrs"].tolist(), a["category"].tolist()
    landmarks = a["landmarks"]
    garments = [
        Garment(
            cats[m],
            tuple(bboxes[m]),
            landmarks[ls[m] : ls[m + 1]],
            polygons[ps[m] : ps[m + 1]],
            *attrs[m],
        )
        for m in range(len(cats))
    ]
    starts, sizes = a["item_start"].tolist(), a["size"].tolist()
    records = [
        ImageAnnotation(
            image_id=image_id,
            file_name=file_name,
            width=sizes[i][0],
            height=sizes[i][1],
            source=_SOURCES[source],
            pair_id=pair_id,  # type: ignore[arg-type]
            items=garments[starts[i] : starts[i + 1]],
        )
        for i, (image_id, file_name, source, pair_id) in enumerate(
            zip(
                a["image_id"].tolist(),
                a["file_name"].tolist(),
                a["source"].tolist(),
                a["pair_id"].tolist(),
                strict=True,
            )
        )
    ]
    checked, with_errors, files_skipped, items_skipped = a["counts"].tolist()
    return SplitReport(
        records=records,
        problems=[Problem(*row) for row in a["problems"].tolist()],
        files_checked=checked,
        files_with_errors=with_errors,
        files_skipped=files_skipped,
        items_skipped=items_skipped,
    )


_OFFSET_KEYS = ("item_start", "lm_start", "poly_start", "coord_start")


def merge_encoded(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate encoded reports (e.g. of consecutive chunks) into one encoded report.

    Offset arrays are re-based onto the concatenated flat arrays; file counters are summed.
    """
    if not parts:
        return encode_report(SplitReport())
    merged: dict[str, np.ndarray] = {}
    for name in parts[0]:
        if name in _OFFSET_KEYS:
            bases = np.cumsum([0] + [int(p[name][-1]) for p in parts[:-1]])
            rebased = [p[name][1:] + b for p, b in zip(parts, bases, strict=True)]
            merged[name] = np.concatenate([np.zeros(1, np.int64), *rebased])
        elif name == "counts":
            merged[name] = np.sum([p[name] for p in parts], axis=0)
        else:
            merged[name] = np.concatenate([p[name] for p in parts])
    return merged


def _offsets(counts: list[int]) -> np.ndarray:
    """CSR-style offsets [len(counts)+1] so that part k is ``flat[off[k]:off[k+1]]``."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out
