"""The end-to-end demo: synthetic data -> tiny Match R-CNN trained on the CPU -> the four
DeepFashion2 benchmarks -> a report folder.

Everything here is composition of the library's parts; the demo adds the thread setting, the time
estimates and the report layout.  Report folder (``OUT/report``): ``metrics.json`` (all numbers,
and under ``run`` what ran), ``tables.md`` (the printed tables), ``predictions.png`` (drawn
detections on validation images), ``retrieval.png`` (user-photo queries with their top-5 shop
results), ``losses.png`` (the loss curves of ``OUT/run/metrics.csv``) and ``index.html``, which
explains all of them and needs nothing but the folder (no network, relative paths).
"""

from __future__ import annotations

import csv
import html
import json
import os
import platform
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fashionvision.config import MAX_DEMO_THREADS, DemoSettings, load_config
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset
from fashionvision.evaluation.error_analysis import analyze_detections
from fashionvision.evaluation.gt_box_classification import REPORT_KEY as GT_BOX_KEY
from fashionvision.evaluation.gt_box_classification import top_confusions
from fashionvision.evaluation.retrieval import box_iou_pairwise
from fashionvision.evaluation.subsets import iter_subsets
from fashionvision.evaluation.tables import format_report
from fashionvision.io_utils import atomic_write, write_json
from fashionvision.structures import Detection, Garment, ImageAnnotation
from fashionvision.viz.draw import (
    category_color,
    crop_tile,
    draw_annotation,
    draw_grid,
    label_below,
)

Log = Callable[[str], None]

# A few minutes of CPU training leave shop detections with low scores: the demo keeps those
# >= 0.1 in the retrieval gallery (the evaluation default, 0.5, suits a fully trained model).
DEMO_GALLERY_THRESHOLD = 0.1
# Detections drawn in predictions.png (evaluation itself keeps every detection >= 0.05).
DISPLAY_SCORE_THRESHOLD = 0.3
# Landmarks drawn on a drawn detection (draw_annotation's default).
DISPLAY_LANDMARK_THRESHOLD = 0.5

QUERY_COLOUR = (60, 60, 200)
HIT_COLOUR = (40, 180, 40)
MISS_COLOUR = (200, 40, 40)

# The paper's figures (DeepFashion2, Ge et al. 2019, Match R-CNN on the released data) and the
# project's targets for the tiny preset after 30 CPU minutes on synthetic data (the "learning"
# issue; what it reaches today is in benchmarks/RESULTS.md).
# (label, metrics key, stat, paper, target)
HEADLINES: tuple[tuple[str, str, str, float | None, float | None], ...] = (
    ("Box AP", "bbox", "AP", 0.638, None),
    ("Box AP50", "bbox", "AP50", 0.789, 0.85),
    ("Mask AP", "segm", "AP", 0.640, None),
    ("Mask AP50", "segm", "AP50", 0.797, 0.75),
    ("Landmark AP, visible only", "landmarks_visible", "AP", 0.605, None),
    ("Landmark AP, visible + occluded", "landmarks", "AP", 0.529, 0.35),
    ("Retrieval top-20, detected boxes", "retrieval", "top20", 0.524, 0.60),
    ("Retrieval top-20, GT boxes", "retrieval_gt_boxes", "top20", None, None),
)


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask; all cores where unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def demo_threads(requested: int | None = None) -> int:
    """torch's thread count for the demo: `requested`, else the available cores up to the cap."""
    if requested is not None:
        if requested < 1:
            raise ValueError("threads must be >= 1")
        return requested
    return max(1, min(available_cores(), MAX_DEMO_THREADS))


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def run_demo(
    out_dir: str | Path, settings: DemoSettings | None = None, log: Log = print
) -> dict[str, Any]:
    """Run the whole demo into `out_dir`; returns the metrics written to ``report/metrics.json``."""
    import torch

    from fashionvision.engine.evaluate import ProgressBar, evaluate_model
    from fashionvision.engine.inference import Predictor
    from fashionvision.engine.schedule import scaled_1x_steps

    settings = settings or DemoSettings()
    out = Path(out_dir)
    data_root, run_dir, report_dir = out / "data", out / "run", out / "report"
    threads = demo_threads(settings.threads)
    torch.set_num_threads(threads)
    log(
        f"torch uses {threads} thread(s); {available_cores()} core(s) available to this process"
        " (--threads N to change)"
    )
    times: dict[str, float] = {}
    started = time.perf_counter()

    tic = time.perf_counter()
    log(f"[1/4] generating {settings.train_images}+{settings.val_images} synthetic images")
    generate_dataset(
        data_root, settings.train_images, settings.val_images, settings.seed, settings.image_size
    )
    times["data"] = time.perf_counter() - tic
    log(f"      done in {format_duration(times['data'])}")

    tic = time.perf_counter()
    log(f"[2/4] training {settings.config} for {settings.epochs} epochs on {data_root}")
    # The 1x schedule's decays at epochs 8 and 11 of 12, scaled to the demo's length.
    steps = scaled_1x_steps(settings.epochs)
    cfg = load_config(
        settings.config,
        [
            f"data.root={data_root}",
            f"solver.epochs={settings.epochs}",
            f"solver.steps={steps}",
            "train.eval_every=0",  # the demo evaluates once, below, with the subset tables
            "train.log_every=1",  # every iteration in metrics.csv: the report's loss curves
            f"train.seed={settings.seed}",
            *settings.overrides,
        ],
    )
    iterations = _train_with_estimates(cfg, run_dir, log)
    times["training"] = time.perf_counter() - tic
    log(f"      done in {format_duration(times['training'])}")

    tic = time.perf_counter()
    log("[3/4] evaluating boxes, masks, landmarks and retrieval on the validation split")
    predictor = Predictor.from_checkpoint(run_dir / "model_final.pt")
    val_dir = data_root / "validation"
    records = load_split(val_dir)
    progress = _EvalProgress(log, ProgressBar("[3/4] inference") if cfg.train.progress else None)
    metrics, coco, retrieval = evaluate_model(
        predictor.model,
        val_dir,
        records,
        device=predictor.device,
        gallery_threshold=DEMO_GALLERY_THRESHOLD,
        progress=progress,
    )
    assert metrics is not None  # single process: rank 0
    rows = retrieval.rows.get("detected", []) if retrieval is not None else []
    # where the AP goes: the analysis of `fashionvision analyze`, on the same detections
    analysis = analyze_detections(records, coco.detections)
    times["evaluation"] = time.perf_counter() - tic
    log(f"      done in {format_duration(times['evaluation'])}")

    tic = time.perf_counter()
    log(f"[4/4] writing the report to {report_dir}")
    run = {
        "data": {
            "kind": "synthetic, DeepFashion2 format (fashionvision synth)",
            "train_images": settings.train_images,
            "val_images": settings.val_images,
            "image_size": settings.image_size,
            "seed": settings.seed,
        },
        "model": {
            "config": settings.config,
            "backbone": cfg.model.backbone,
            "norm": cfg.model.norm,
            "weights": cfg.model.weights,
            "input_size": [cfg.model.min_size, cfg.model.max_size],
        },
        "training": {
            "epochs": settings.epochs,
            "iterations": iterations,
            "batch_size": cfg.solver.batch_size,
            "base_lr": cfg.solver.base_lr,
            "overrides": list(settings.overrides),
        },
        "evaluation": {
            "score_threshold": _eval_score_threshold(),
            "gallery_threshold": DEMO_GALLERY_THRESHOLD,
        },
        "machine": {
            "device": str(predictor.device),
            "torch_threads": torch.get_num_threads(),
            "cores_available": available_cores(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
        },
        "times_s": {k: round(v, 1) for k, v in times.items()},
    }
    metrics["run"] = run
    metrics["wall_time_s"] = round(time.perf_counter() - started, 1)
    write_report(
        report_dir,
        val_dir,
        records,
        coco.detections,
        rows,
        metrics,
        metrics_csv=run_dir / "metrics.csv",
        finish=lambda: _finish_times(metrics, tic, started),
        analysis=analysis,
    )
    log(format_report(metrics))
    shown = metrics["predictions_shown"]
    log(
        f"predictions.png: {shown['verdicts']['right']} of {sum(shown['verdicts'].values())} "
        f"drawn detections right, {shown['garments_found']} of {shown['garments']} garments found"
    )
    return metrics


def _finish_times(metrics: dict[str, Any], tic: float, started: float) -> None:
    """The report stage's own time, and the total, just before metrics.json is written."""
    now = time.perf_counter()
    metrics["run"]["times_s"]["report"] = round(now - tic, 1)
    metrics["wall_time_s"] = round(now - started, 1)


def _eval_score_threshold() -> float:
    from fashionvision.engine.evaluate import EVAL_SCORE_THRESHOLD

    return EVAL_SCORE_THRESHOLD


def _train_with_estimates(cfg: Any, run_dir: Path, log: Log) -> int:
    """Train as `fashionvision train` does, printing after each epoch the time the training stage
    still needs (the epoch's own bar estimates only that epoch).  Returns the iterations run."""
    from fashionvision.engine import distributed as D
    from fashionvision.engine.trainer import Trainer

    def estimate(trainer: Trainer, seconds: float) -> None:
        done = trainer.state.iteration - started_at[0]
        started_at[0] = trainer.state.iteration
        total = trainer.planned_iterations()
        if done and trainer.dist.is_main:
            per_iter = seconds / done
            left = max(0, total - trainer.state.iteration)
            log(
                f"      epoch {trainer.state.epoch + 1}/{trainer.planned_epochs()}: "
                f"{trainer.state.iteration}/{total} iterations, {per_iter:.2f} s each; "
                f"training about {format_duration(left * per_iter)} left"
            )

    started_at = [0]  # iterations done when the current epoch started
    trainer = Trainer(cfg, run_dir, on_epoch_end=estimate)
    total = trainer.planned_iterations()
    log(
        f"      {total} iterations ({trainer.iters_per_epoch} per epoch, batch "
        f"{cfg.solver.batch_size}); a time estimate follows each epoch"
    )
    try:
        state = trainer.fit()
    finally:
        D.cleanup(trainer.dist)
    return state.iteration


class _EvalProgress:
    """Evaluation progress: the bar (when the config shows bars) plus a line with the estimated
    time left at about every quarter, and a line when the scoring after inference starts."""

    def __init__(self, log: Log, bar: Callable[[int, int], None] | None) -> None:
        self.log, self.bar = log, bar
        self.started = time.perf_counter()
        self.next_quarter = 1

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar(done, total)
        elapsed = time.perf_counter() - self.started
        if done < total and self.bar is None and done * 4 >= self.next_quarter * total:
            self.next_quarter = done * 4 // total + 1
            left = elapsed / done * (total - done)
            self.log(f"      {done}/{total} images, about {format_duration(left)} left")
        if done >= total:
            self.log(
                f"      inference on {total} images took {format_duration(elapsed)}; "
                "scoring AP and retrieval (usually a small fraction of that)"
            )


# ---------------------------------------------------------------------------------------------
# The report


def write_report(
    report_dir: Path,
    split_dir: Path,
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    rows: Sequence[dict[str, Any]],
    metrics: dict[str, Any],
    num_images: int = 12,
    metrics_csv: Path | None = None,
    finish: Callable[[], None] | None = None,
    analysis: dict[str, Any] | None = None,
) -> None:
    """metrics.json, tables.md, predictions.png, retrieval.png, losses.png (when `metrics_csv`
    exists) and index.html, all written atomically.  ``metrics["run"]`` (optional) describes what
    ran (see `run_demo`); `finish` is called before metrics.json and index.html are written.
    With `analysis` (`analyze_detections`' result) also errors.png and confusion.png."""
    report_dir.mkdir(parents=True, exist_ok=True)
    tables = format_report(metrics, per_category=True)
    atomic_write(report_dir / "tables.md", lambda f: f.write("```\n" + tables + "\n```\n"))
    grid, shown = prediction_grid(split_dir, records, detections, num_images)
    metrics["predictions_shown"] = shown
    _save_png(report_dir / "predictions.png", grid)
    _save_png(report_dir / "retrieval.png", retrieval_grid(split_dir, records, rows))
    curves = loss_plot(metrics_csv) if metrics_csv is not None and metrics_csv.exists() else None
    if curves is not None:
        _save_png(report_dir / "losses.png", curves)
    if analysis is not None:
        from fashionvision.viz.plots import draw_analysis_confusion, draw_analysis_errors

        _save_png(report_dir / "errors.png", draw_analysis_errors(analysis))
        _save_png(report_dir / "confusion.png", draw_analysis_confusion(analysis))
        write_json(report_dir / "analysis.json", analysis, indent=2)
    if finish is not None:
        finish()
    write_json(report_dir / "metrics.json", metrics, indent=2)
    page = report_html(
        metrics,
        tables,
        shown,
        has_losses=curves is not None,
        rows=len(rows),
        has_analysis=analysis is not None,
    )
    atomic_write(report_dir / "index.html", lambda f: f.write(page))


def _save_png(path: Path, image: Image.Image) -> None:
    atomic_write(path, lambda f: image.save(f, format="PNG"), mode="wb")


def _fmt(value: Any) -> str:
    """Three decimals like the paper; -1 (undefined in pycocotools) prints as '-'."""
    v = float(value)
    return "-" if v < 0 else f"{v:.3f}"


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], first_col: bool = True) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            tag = "th" if first_col and i == 0 else "td"
            cells.append(f"<{tag}>{_esc(cell)}</{tag}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_TASK_TITLES: tuple[tuple[str, str, str], ...] = (
    ("bbox", "Boxes", "bbox"),
    ("segm", "Masks", "segm"),
    ("landmarks", "Landmarks (visible + occluded)", "landmarks"),
    ("landmarks_visible", "Landmarks (visible only)", "landmarks"),
)

# One sentence per column of the report's tables.
COLUMN_EXPLANATIONS: tuple[tuple[str, str], ...] = (
    ("AP", "Average precision, COCO's main number: how well the detections, ranked by score, "
     "find every garment without false ones, averaged over the overlap thresholds "
     "IoU 0.50, 0.55, …, 0.95 (1.0 = perfect, 0 = nothing right)."),
    ("AP50, AP75", "The same at a single overlap threshold: IoU ≥ 0.5 (a loose fit counts) or "
     "IoU ≥ 0.75 (only tight boxes or masks count)."),
    ("APs, APm, APl", "AP over small (area < 32² px), medium (32²–96² px) and large (> 96² px) "
     "garments only — COCO's size ranges."),
    ("AR1, AR10, AR100", "Average recall: the share of garments found (averaged over the same IoU "
     "thresholds) when at most 1, 10 or 100 detections per image are kept."),
    ("ARs, ARm, ARl", "AR100 over small, medium and large garments only."),
    ("Landmark AP, AR, AR50, AR75", "For landmarks, overlap is OKS (object keypoint similarity: "
     "how close the predicted landmarks lie to the labelled ones, relative to the garment's size, "
     "with DeepFashion2's per-landmark tolerances) instead of IoU; at most 20 detections per "
     "image; AR is recall on the same scale."),
    ("visible + occluded / visible only", "The first scores every labelled landmark, including "
     "those hidden behind something; the second removes the occluded ones from the ground truth."),
    ("scale: small, moderate, large", "Box AP over the garments of that size class only (the "
     "others are ignored, not counted as misses) — the paper's table 4, as all subset columns."),
    ("occlusion: slight, medium, heavy", "Box AP over the garments that much covered by other "
     "things."),
    ("zoom_in: no, medium, large", "Box AP over the garments that much cut off by the picture's "
     "frame."),
    ("viewpoint: no wear, frontal, side or back", "Box AP over garments not worn (shop pictures "
     "of the garment alone), worn and seen from the front, or worn and seen from the side or "
     "back."),
    ("overall", "The same AP over all garments (the Boxes table's value)."),
    ("per category", "Box AP of each of the 13 DeepFashion2 categories alone."),
    ("- (a dash)", "Undefined: the validation split has no garment in that group (pycocotools "
     "writes -1)."),
    ("top-1 … top-20", "Retrieval: the share of garments in user photos for which one of the "
     "first k shop results is the same garment (same pair and style, with a box overlapping it "
     "at IoU ≥ 0.5) — DeepFashion2's protocol."),
    ("queries", "The garments in user photos to look up (style > 0): the denominator of top-k."),
    ("missed", "Queries the detector did not find (no detection of the right category on that "
     "garment); they count as failures at every k."),
    ("gallery", "How many shop garments the queries are ranked against (detections scoring at "
     "least the gallery threshold, or the labelled shop boxes in the GT-box row); with fewer "
     "than k, top-k is the accuracy over the whole gallery."),
    ("detected boxes / GT boxes", "Queries and gallery from the model's own detections (the "
     "paper's setting) or from the labelled boxes (this isolates the matching network from "
     "detection)."),
)  # fmt: skip


_CSS = """
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em;
       line-height: 1.4; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 2px 8px; }
td { text-align: right; font-variant-numeric: tabular-nums; }
table.text td { text-align: left; }
thead th { background: #f0f0f0; }
tbody th { text-align: left; font-weight: normal; background: #fafafa; }
.note { background: #fff6d6; border-left: 4px solid #e0b000; padding: .5em 1em; }
.swatch { display: inline-block; width: 1em; height: 1em; vertical-align: middle;
          border: 1px solid #444; margin: 0 .25em 0 .75em; }
img { max-width: 100%; border: 1px solid #ddd; }
dt { font-weight: bold; margin-top: .4em; }
dd { margin-left: 1.5em; }
"""


def report_html(
    metrics: dict[str, Any],
    tables: str,
    shown: dict[str, Any],
    *,
    has_losses: bool,
    rows: int,
    has_analysis: bool = False,
) -> str:
    """index.html: what ran, the headline numbers beside references, every table with its
    columns explained, the pictures with their thresholds and colours, the loss curves."""
    from fashionvision.categories import CATEGORY_NAMES
    from fashionvision.evaluation.coco_eval import stat_keys

    run = metrics.get("run", {})
    eval_threshold = run.get("evaluation", {}).get("score_threshold", 0.05)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>fashionvision demo report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>fashionvision demo report</h1>",
        "<p>This page shows the whole Match R-CNN pipeline run once on this machine: a synthetic "
        "data set in DeepFashion2's format was generated, a small Match R-CNN was trained on it "
        "and then scored on the four DeepFashion2 tasks — garment detection (boxes), "
        "segmentation (masks), landmark estimation and consumer-to-shop retrieval. It shows "
        "that every stage works; a model trained for minutes on a CPU is weak, and its numbers "
        "are not a measure of what the method can do.</p>",
        "<h2>What ran</h2>",
        _run_table(run, metrics),
        "<h2>Headline numbers</h2>",
        _headline_table(metrics),
        "<p class='note'>The <b>paper</b> column holds the DeepFashion2 paper's Match R-CNN "
        "figures on the <b>real</b> DeepFashion2 data (191,961 training images) after 12 epochs "
        "on GPUs, with a ResNet-50-FPN pretrained on ImageNet. This run trained a much smaller "
        "model from scratch for a few CPU minutes on synthetic pictures: the two are <b>not "
        "comparable</b>. The <b>target</b> column is what this tiny model should reach on "
        "synthetic data after 30 minutes of CPU training (1,200 training images): the "
        "project's goal, not yet met — <code>benchmarks/RESULTS.md</code> has what it reaches "
        "today. The demo trains for a few minutes only; any value clearly above 0 shows that "
        "the task's whole path works.</p>",
        "<h2>All the numbers</h2>",
        "<p>Every column is explained <a href='#columns'>below the tables</a>. Evaluation keeps "
        f"every detection scoring at least {eval_threshold:g} (AP integrates over the "
        "low-score tail).</p>",
    ]
    for key, title, task in _TASK_TITLES:
        if key in metrics:
            keys = stat_keys(task)
            parts.append(f"<h3>{_esc(title)}</h3>")
            parts.append(_table(keys, [[_fmt(metrics[key][k]) for k in keys]], first_col=False))
    box = metrics.get("bbox", {})
    if "subsets" in box:
        parts.append("<h3>Box AP by subset (the paper's table 4)</h3>")
        parts.append(_subset_table(box))
    if "per_category" in box:
        parts.append("<h3>Box AP by category</h3>")
        cats = box["per_category"]
        parts.append(
            _table(
                ["category", "AP", "AP50", "AP75"],
                [[name, *(_fmt(s[k]) for k in ("AP", "AP50", "AP75"))] for name, s in cats.items()],
            )
        )
    retrieval_rows = []
    for key, title in (("retrieval", "detected boxes"), ("retrieval_gt_boxes", "GT boxes")):
        if key in metrics:
            r = metrics[key]
            tops = [k for k in r if k.startswith("top")]
            retrieval_rows.append(
                (tops, [title, *(_fmt(r[k]) for k in tops), r["num_queries"], r["num_missed"],
                        r.get("gallery_size", "?")])
            )  # fmt: skip
    if retrieval_rows:
        tops = retrieval_rows[0][0]
        header = ["boxes", *(t.replace("top", "top-") for t in tops)]
        header += ["queries", "missed", "gallery"]
        gallery = run.get("evaluation", {}).get("gallery_threshold")
        parts.append("<h3>Retrieval</h3>")
        parts.append(_table(header, [r for _, r in retrieval_rows]))
        if gallery is not None:
            parts.append(
                f"<p>Gallery threshold {gallery:g}: a shop detection enters the gallery "
                "when it scores at least this (the library's default, 0.5, suits a fully trained "
                "model; this weak one would leave the gallery almost empty).</p>"
            )
    parts.append("<h3 id='columns'>What the columns mean</h3><dl>")
    for term, text in COLUMN_EXPLANATIONS:
        parts.append(f"<dt>{_esc(term)}</dt><dd>{_esc(text)}</dd>")
    parts.append("</dl>")

    thr = shown.get("score_threshold", DISPLAY_SCORE_THRESHOLD)
    legend = "".join(
        f"<span class='swatch' style='background: rgb{category_color(c)}'></span>"
        f"{_esc(CATEGORY_NAMES.get(c, c))}"
        for c in shown.get("categories", [])
    )
    parts += [
        "<h2>Predictions on validation images</h2>",
        "<p>Each pair shows a validation image twice: <b>left the ground truth</b> (the "
        "annotated garments: box, category, polygons and landmarks), <b>right what the model "
        "found</b>. "
        f"<b>Score threshold {thr:.2f}</b>: the right picture shows the detections scoring at "
        f"least {thr:.2f} (the best {shown.get('per_image', 4)} per image; where a lower-scoring "
        f"box of another category lies on the same garment, box IoU ≥ {DISPLAY_OVERLAP_IOU}, "
        "only the better one is drawn), in the colour of their category: box, category name "
        "and score, shaded mask, and the landmark dots "
        f"whose own score reaches {DISPLAY_LANDMARK_THRESHOLD:.1f}. "
        f"{shown.get('with_detections', 0)} of the {shown.get('images', 0)} pictures have a "
        f"detection at this threshold ({shown.get('split_with_detections', 0)} of "
        f"{shown.get('split_images', 0)} in the validation split); pictures with detections "
        "are shown first. The threshold is for display only: the numbers above use every "
        "detection from 0.05."
        + (
            f" This model's scores are low, so the threshold was lowered from "
            f"{shown['requested_threshold']:.2f} to show its best guesses."
            if thr < shown.get("requested_threshold", thr)
            else ""
        )
        + "</p>",
        f"<p><b>{_esc(verdict_summary(shown))}</b> Under each pair: the image's file name and "
        "the verdicts of its detections.</p>",
        f"<p>Colours: {legend or 'no garment drawn'}</p>",
        "<img src='predictions.png' alt='detections drawn on validation images'>",
        "<h2>Retrieval: user-photo queries and their top-5 shop results</h2>",
        "<p>One line per query (the 6 most confident detections in user photos): first the "
        "query garment in a <b style='color: rgb(60,60,200)'>blue</b> frame, then the first 5 "
        "shop garments it retrieved, best first. <b style='color: rgb(40,180,40)'>Green</b> = "
        "a hit: that shop picture holds the query's garment (same pair and style); "
        "<b style='color: rgb(200,40,40)'>red</b> = a miss. The frame is the picture's cue; the "
        "top-k numbers above also require the returned box to overlap the garment "
        "(IoU ≥ 0.5).</p>",
        "<img src='retrieval.png' alt='retrieval queries and results'>"
        if rows
        else "<p>No retrieval rows: the model found no garment in the user photos.</p>",
    ]
    if has_analysis:
        parts.append(
            "<h2>Where the AP goes (error analysis)</h2>"
            "<p>The AP50 an oracle would gain by fixing one kind of error at a time (TIDE's "
            "definitions, as <code>fashionvision analyze</code>): <b>cls</b> a garment found "
            "with the wrong category, <b>loc</b> the right category with a loose box (IoU "
            "0.1–0.5), <b>both</b> wrong category and loose box, <b>dupe</b> a second detection "
            "of a garment already found, <b>bkg</b> a detection where there is no garment, "
            "<b>miss</b> a garment nothing detected. The longest bar is the error to work on; "
            "one panel for the whole split, one per subset (shop vs user photos, occlusion, "
            "zoom). Numbers in <a href='analysis.json'>analysis.json</a>.</p>"
            "<img src='errors.png' alt='AP50 gained by fixing each error type'>"
            "<p>The confusion matrix counts hard decisions (detections scoring at least 0.5, "
            "matched at IoU ≥ 0.5): rows are the true category (and background), columns the "
            "predicted one (and missed).</p>"
            "<img src='confusion.png' alt='category confusion matrix'>"
        )
        gt_box = metrics.get(GT_BOX_KEY)
        if gt_box and gt_box.get("num_items"):
            parts.append(_gt_box_paragraph(gt_box))
    parts += [
        "<h2>Training losses</h2>",
    ]
    if has_losses:
        parts.append(
            "<p>From <code>run/metrics.csv</code>: one panel per loss against the training "
            "iteration, each with its own vertical scale (thin line: logged values; thick line: "
            "their running mean). <i>loss</i> is the weighted sum of the five task losses "
            "(weights in <code>run/config.yaml</code>, section <code>loss</code>); the others "
            "are unweighted. Falling curves mean the model is learning; the landmark loss starts "
            "near its uniform-guess value and falls slowly.</p>"
            "<img src='losses.png' alt='training loss curves'>"
        )
    else:
        parts.append("<p>No loss rows in <code>run/metrics.csv</code> to plot.</p>")
    parts += [
        "<h2>Files</h2><p><a href='metrics.json'>metrics.json</a> (every number, and "
        "<code>run</code>: what ran) · <a href='tables.md'>tables.md</a> (the tables as the "
        "command line prints them) · the pictures above as PNG files.</p>",
        "<details><summary>The tables as printed</summary><pre>",
        html.escape(tables),
        "</pre></details></body></html>",
    ]
    return "\n".join(parts)


def _gt_box_paragraph(result: dict[str, Any]) -> str:
    """The box classifier alone (`GTBoxClassificationEvaluator`): how often it names a garment
    handed its true box, and its most frequent confusions."""
    sub = result.get("subsets", {}).get("source", {})
    split = ", ".join(
        f"{name} photos {_fmt(v['top1'])}" for name, v in sub.items() if v.get("num_items")
    )
    pairs = top_confusions(result, 3)
    confused = "; ".join(f"{_esc(t)} named {_esc(p)} {n}×" for n, t, p in pairs)
    return (
        "<p><b>Naming apart from finding</b>: handed each garment's true box, the box classifier "
        f"names {_fmt(result['top1'])} of the {result['num_items']} garments right "
        f"(the right one among its two best: {_fmt(result['top2'])}"
        + (f"; {split}" if split else "")
        + ")."
        + (f" Most often confused: {confused}." if confused else "")
        + " In <code>metrics.json</code> as <code>gt_box_classification</code>, per category "
        "and subset.</p>"
    )


def _run_table(run: dict[str, Any], metrics: dict[str, Any]) -> str:
    rows: list[tuple[str, str]] = []
    data = run.get("data")
    if data:
        rows.append((
            "Data",
            f"{data['kind']}: {data['train_images']} training and {data['val_images']} "
            f"validation images of {data['image_size']} × {data['image_size']} px, seed "
            f"{data['seed']}",
        ))  # fmt: skip
    model = run.get("model")
    if model:
        weights = model.get("weights")
        start = (
            "trained from scratch (no pretrained weights)"
            if not weights
            else (f"starting from {weights}")
        )
        rows.append((
            "Model",
            f"Match R-CNN, preset {model['config']}: {model['backbone']}-FPN backbone "
            f"({model.get('norm', '?')} normalisation), {start}, input "
            f"{model['input_size'][0]} px",
        ))  # fmt: skip
    training = run.get("training")
    if training:
        text = (
            f"{training['iterations']} iterations = {training['epochs']} epochs at batch "
            f"{training['batch_size']}, base learning rate {training['base_lr']}"
        )
        if training.get("overrides"):
            text += "; overrides: " + " ".join(training["overrides"])
        rows.append(("Training", text))
    times = run.get("times_s")
    if times:
        names = {"data": "data", "training": "training", "evaluation": "evaluation",
                 "report": "report"}  # fmt: skip
        text = ", ".join(f"{names.get(k, k)} {format_duration(v)}" for k, v in times.items())
        if "wall_time_s" in metrics:
            text += f"; total {format_duration(metrics['wall_time_s'])}"
        rows.append(("Wall time", text))
    machine = run.get("machine")
    if machine:
        rows.append((
            "Machine",
            f"{machine['device']}, torch {machine['torch']} using {machine['torch_threads']} "
            f"thread(s) of {machine['cores_available']} available core(s); Python "
            f"{machine['python']}, {machine['platform']}",
        ))  # fmt: skip
    if not rows:
        return "<p>(No description of the run in metrics.json.)</p>"
    table = _table(["", ""], rows).replace("<thead><tr><th></th><th></th></tr></thead>", "")
    return table.replace("<table>", "<table class='text'>", 1)


def _headline_table(metrics: dict[str, Any]) -> str:
    rows = []
    for label, key, stat, paper, target in HEADLINES:
        if key not in metrics:
            continue
        rows.append([
            label,
            _fmt(metrics[key][stat]),
            "-" if target is None else f"{target:.2f}",
            "-" if paper is None else f"{paper:.3f}",
        ])  # fmt: skip
    header = ["task", "this run", "target (30 CPU min, synthetic)", "paper (real DeepFashion2)"]
    return _table(header, rows)


def _subset_table(result: dict[str, Any]) -> str:
    columns = list(iter_subsets())
    groups: list[tuple[str, int]] = []
    for attr, _, _ in columns:
        if groups and groups[-1][0] == attr:
            groups[-1] = (attr, groups[-1][1] + 1)
        else:
            groups.append((attr, 1))
    top = (
        "<tr><th></th>"
        + "".join(f"<th colspan='{n}'>{_esc(attr)}</th>" for attr, n in groups)
        + "<th></th></tr>"
    )
    second = "<tr><th></th>" + "".join(f"<th>{_esc(n)}</th>" for _, _, n in columns)
    second += "<th>overall</th></tr>"
    body = []
    for key in ("AP", "AP50", "AP75"):
        values = [result["subsets"][attr][name][key] for attr, _, name in columns]
        cells = "".join(f"<td>{_fmt(v)}</td>" for v in [*values, result[key]])
        body.append(f"<tr><th>{key}</th>{cells}</tr>")
    return f"<table><thead>{top}{second}</thead><tbody>{''.join(body)}</tbody></table>"


# ---------------------------------------------------------------------------------------------
# The pictures


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def with_caption(image: Image.Image, text: str, size: int = 14) -> Image.Image:
    """`image` below a white band holding `text`, wrapped to the image's width."""
    font = _font(size)
    char_w = max(1.0, font.getlength("abcdefghijklmnopqrstuvwxyz") / 26)
    width = max(20, int((image.width - 12) / char_w))
    lines = [line for para in text.split("\n") for line in textwrap.wrap(para, width) or [""]]
    line_h = size + 4
    band = 8 + line_h * len(lines)
    out = Image.new("RGB", (image.width, image.height + band), "white")
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((6, 4 + i * line_h), line, fill=(0, 0, 0), font=font)
    out.paste(image.convert("RGB"), (0, band))
    return out


def _spread(items: Sequence[Any], k: int) -> list[Any]:
    """`k` of `items` evenly spread over the sequence (all when there are fewer)."""
    if len(items) <= k:
        return list(items)
    return [items[i * len(items) // k] for i in range(k)]


# The detector scores every category per box, so one garment often carries a second, lower
# box of a neighbouring category; drawn together they hide the first. Display only: the
# metrics keep every detection.
DISPLAY_OVERLAP_IOU = 0.7


def _covers(kept: Sequence[Detection], det: Detection) -> bool:
    """Whether a better detection already drawn lies on `det`'s garment (box IoU >= 0.7)."""
    if not kept:
        return False
    boxes = np.asarray([k.bbox for k in kept], float)
    return bool(
        (box_iou_pairwise(np.asarray(det.bbox, float)[None], boxes) >= DISPLAY_OVERLAP_IOU).any()
    )


# A drawn detection is "right" when it matches a garment of its category at this box IoU (the
# threshold of box AP50, the headline number).
VERDICT_IOU = 0.5
VERDICTS = ("right", "wrong category", "duplicate", "no garment")


def judge_detections(rec: ImageAnnotation, dets: Sequence[Detection]) -> list[str]:
    """One verdict per detection of `rec` (best first, as drawn): ``right`` when it matches a
    garment of its own category not matched yet (box IoU >= `VERDICT_IOU`), ``duplicate`` when
    such a garment is already matched by a better detection, ``wrong category`` when it lies on
    a garment (IoU >= `VERDICT_IOU`) of another category only, else ``no garment``.  Greedy by
    score, as COCO matching is."""
    items = [it for it in rec.items if it.bbox is not None]
    boxes = np.asarray([it.bbox for it in items], float).reshape(-1, 4)
    found: set[int] = set()
    verdicts = []
    for det in sorted(dets, key=lambda d: -d.score):
        ious = box_iou_pairwise(np.asarray(det.bbox, float)[None], boxes)
        same = [
            (iou, k)
            for k, iou in enumerate(ious)
            if items[k].category_id == det.category_id and iou >= VERDICT_IOU
        ]
        free = [(iou, k) for iou, k in same if k not in found]
        if free:
            found.add(max(free)[1])
            verdicts.append("right")
        elif same:
            verdicts.append("duplicate")
        elif len(ious) and ious.max() >= VERDICT_IOU:
            verdicts.append("wrong category")
        else:
            verdicts.append("no garment")
    return verdicts


def verdict_summary(shown: dict[str, Any]) -> str:
    """One sentence of `prediction_grid`'s counts, for the picture's caption and the page."""
    counts = shown.get("verdicts", dict.fromkeys(VERDICTS, 0))
    return (
        f"Of the {sum(counts.values())} detections drawn, {counts['right']} are right (they lie "
        f"on a garment of their category: box IoU >= {VERDICT_IOU}, each garment counted once), "
        f"{counts['wrong category']} name the wrong category for the garment they lie on, "
        f"{counts['duplicate']} repeat a garment already found and {counts['no garment']} lie "
        f"on no garment; {shown.get('garments_found', 0)} of the {shown.get('garments', 0)} "
        "annotated garments in these pictures are found."
    )


def prediction_grid(
    split_dir: Path,
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    num_images: int,
    score_threshold: float = DISPLAY_SCORE_THRESHOLD,
    per_image: int = 4,
) -> tuple[Image.Image, dict[str, Any]]:
    """Detections scoring >= `score_threshold` (at most `per_image`, best first, one per garment:
    a lower-scoring box with IoU >= `DISPLAY_OVERLAP_IOU` to a drawn one is left out) drawn on
    `num_images` validation images, each beside its ground truth: images with such detections
    first (spread over the split), then others.  The threshold is written on the picture, and
    under each pair its file name and the verdicts of its detections (`judge_detections`).
    Returns the picture and what it shows (for the page and metrics.json): the counts of each
    verdict and of the garments found, so "are the drawn predictions right?" is a number."""
    requested = score_threshold
    best: dict[int, float] = {}
    for det in detections:
        best[det.image_id] = max(best.get(det.image_id, 0.0), det.score)
    ranked = sorted(best.values(), reverse=True)
    if ranked:
        # a weak model scores low: lower the threshold (never raise it) until `num_images`
        # images (or every image with a detection) have something to show
        score_threshold = min(score_threshold, ranked[min(num_images, len(ranked)) - 1])
    by_image: dict[int, list[Detection]] = {}
    for det in sorted(detections, key=lambda d: -d.score):
        kept = by_image.setdefault(det.image_id, [])
        if det.score >= score_threshold and len(kept) < per_image and not _covers(kept, det):
            kept.append(det)
    with_dets = [r for r in records if by_image.get(r.image_id)]
    without = [r for r in records if not by_image.get(r.image_id)]
    # images with detections first, each group in id order and spread over the split
    chosen = _spread(with_dets, num_images)
    chosen += _spread(without, num_images - len(chosen))
    tiles = []
    categories: set[int] = set()
    counts = dict.fromkeys(VERDICTS, 0)
    garments = 0
    for rec in chosen:
        image = Image.open(split_dir / rec.file_name).convert("RGB")
        dets = by_image.get(rec.image_id, [])
        categories.update(d.category_id for d in dets)
        categories.update(it.category_id for it in rec.items)
        verdicts = judge_detections(rec, dets)
        for v in verdicts:
            counts[v] += 1
        garments += len(rec.items)
        truth = draw_annotation(image, rec.items, numbers=False)
        predicted = draw_annotation(image, dets, landmark_threshold=DISPLAY_LANDMARK_THRESHOLD)
        pair = draw_grid([truth, predicted], ncols=2, pad=2)
        tally = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
        label = f"{Path(rec.file_name).stem}: truth | predicted: " + (tally or "none")
        tiles.append(label_below(pair, label))
    shown = {
        "score_threshold": score_threshold,
        "requested_threshold": requested,
        "per_image": per_image,
        "images": len(chosen),
        "with_detections": sum(1 for r in chosen if by_image.get(r.image_id)),
        "split_images": len(records),
        "split_with_detections": len(with_dets),
        "categories": sorted(categories),
        "verdicts": counts,
        "garments": garments,
        "garments_found": counts["right"],  # a right detection is matched to one garment
    }
    if not tiles:
        blank = Image.new("RGB", (256, 64), "white")
        return with_caption(blank, "no validation images"), shown
    grid = draw_grid(tiles, ncols=min(3, len(tiles)))
    caption = (
        "Left of each pair the ground truth, right the detections with score >= "
        f"{score_threshold:.2f}"
        + (f" (lowered from {requested:.2f}: low scores)" if score_threshold < requested else "")
        + f" (best {per_image} per image, one box per garment), coloured "
        f"by category; landmark dots where their score >= {DISPLAY_LANDMARK_THRESHOLD:.1f}. "
        f"{shown['with_detections']} of {len(chosen)} images shown have one. "
        + verdict_summary(shown)
    )
    return with_caption(grid, caption), shown


def retrieval_grid(
    split_dir: Path,
    records: Sequence[ImageAnnotation],
    rows: Sequence[dict[str, Any]],
    num_queries: int = 6,
    top: int = 5,
    tile: int = 128,
) -> Image.Image:
    """One line per query: the query crop (blue frame), then its top-`top` shop crops, with a
    caption saying what the frames mean.

    Green frame: the shop image holds the query's garment (same pair_id and style as the query's
    best-overlapping GT item) — the picture's cue; the protocol's IoU >= 0.5 check is left to
    `evaluate_retrieval`, whose numbers the report prints.  Red: it does not."""
    by_id = {r.image_id: r for r in records}
    lines = []
    for row in sorted(rows, key=lambda r: -r["query_score"])[:num_queries]:
        query_rec = by_id[row["query_image_id"]]
        truth = _best_item(query_rec, row["query_bbox"])
        crops = [_crop(split_dir, query_rec, row["query_bbox"], tile, QUERY_COLOUR)]
        for image_id, box in list(zip(row["gallery_image_id"], row["gallery_bbox"], strict=True))[
            :top
        ]:
            shop = by_id[image_id]
            hit = (
                truth is not None
                and truth.style > 0
                and any(
                    it.style == truth.style and shop.pair_id == query_rec.pair_id
                    for it in shop.items
                )
            )
            crops.append(_crop(split_dir, shop, box, tile, HIT_COLOUR if hit else MISS_COLOUR))
        lines.append(draw_grid(crops, ncols=len(crops)))
    if not lines:
        return with_caption(Image.new("RGB", (tile * 4, tile), "white"), "no retrieval queries")
    caption = (
        f"Left: the query (blue frame), a garment detected in a user photo. Then its top-{top} "
        "shop results, best first: green frame = same garment (hit), red = another garment."
    )
    return with_caption(draw_grid(lines, ncols=1), caption)


def _best_item(rec: ImageAnnotation, box: Sequence[float]) -> Garment | None:
    """The GT item of `rec` overlapping `box` most (the protocol's query assignment)."""
    if not rec.items:
        return None
    gt_boxes = np.asarray([i.bbox for i in rec.items], float)
    ious = box_iou_pairwise(np.asarray(box, float)[None], gt_boxes)  # [n_items]
    return rec.items[int(ious.argmax())]


def _crop(
    split_dir: Path,
    rec: ImageAnnotation,
    box: Sequence[float],
    tile: int,
    colour: tuple[int, int, int],
) -> Image.Image:
    with Image.open(split_dir / rec.file_name) as image:
        return crop_tile(image, box, tile, colour)


def read_losses(metrics_csv: Path) -> tuple[list[float], dict[str, list[float]]]:
    """(iterations, {column: values}) of the loss columns of a run's metrics.csv: ``loss`` (the
    weighted total) and the raw ``loss_*`` terms."""
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return [], {}
    names = [k for k in rows[0] if k == "loss" or k.startswith("loss_")]
    its = [float(r["iteration"]) for r in rows]
    return its, {n: [float(r[n]) for r in rows] for n in names}


def loss_plot(
    metrics_csv: Path, panel: tuple[int, int] = (340, 210), ncols: int = 3
) -> Image.Image | None:
    """Small multiples of the loss curves (one panel per loss, own y scale, running mean drawn
    thick), drawn with PIL; None when the file has no rows."""
    its, series = read_losses(metrics_csv)
    if not its:
        return None
    panels = [_loss_panel(name, its, values, panel) for name, values in series.items()]
    return draw_grid(panels, ncols=min(ncols, len(panels)), pad=6)


def _loss_panel(
    name: str, its: list[float], values: list[float], size: tuple[int, int]
) -> Image.Image:
    w, h = size
    left, right, top, bottom = 52, 10, 24, 28
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(14), _font(11)
    title = name if name == "loss" else name.removeprefix("loss_")
    draw.text((left, 4), "loss (weighted total)" if name == "loss" else title, fill=(0, 0, 0),
              font=font)  # fmt: skip
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    x0, x1 = min(its), max(its)
    span = (x1 - x0) or 1.0

    def xy(x: float, y: float) -> tuple[float, float]:
        px = left + (x - x0) / span * (w - left - right)
        py = top + (hi - y) / (hi - lo) * (h - top - bottom)
        return px, py

    draw.rectangle((left, top, w - right, h - bottom), outline=(120, 120, 120))
    for frac in (0.0, 0.5, 1.0):
        y = lo + frac * (hi - lo)
        _, py = xy(x0, y)
        draw.line((left - 4, py, left, py), fill=(120, 120, 120))
        draw.text((2, py - 6), f"{y:.3g}", fill=(60, 60, 60), font=small)
    for x in (x0, x1):
        px, _ = xy(x, lo)
        label = f"{int(x)}"
        off = 0 if x == x0 else small.getlength(label)
        draw.text((px - off, h - bottom + 3), label, fill=(60, 60, 60), font=small)
    draw.text((w // 2 - 24, h - bottom + 12), "iteration", fill=(60, 60, 60), font=small)
    points = [xy(x, y) for x, y in zip(its, values, strict=True)]
    if len(points) > 1:
        draw.line(points, fill=(170, 190, 230), width=1)
        window = max(1, len(values) // 15)
        cumsum = np.cumsum([0.0, *values])
        mean = [
            (cumsum[i + 1] - cumsum[max(0, i + 1 - window)]) / (i + 1 - max(0, i + 1 - window))
            for i in range(len(values))
        ]
        draw.line([xy(x, y) for x, y in zip(its, mean, strict=True)], fill=(20, 60, 160), width=2)
    else:
        px, py = points[0]
        draw.ellipse((px - 3, py - 3, px + 3, py + 3), fill=(20, 60, 160))
    return img


def load_metrics(report_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(report_dir) / "metrics.json").read_text())
