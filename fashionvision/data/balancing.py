"""Class balancing for training: repeat-factor sampling and the class-balancing augmentation.

Two ways to give rare categories more weight, both working on dataset indices (an index is a
position in the list of `ImageAnnotation` records, the order of `DeepFashion2Dataset`):

- Repeat-factor sampling (LVIS, Gupta et al. 2019): every image gets a factor r >= 1 from its
  rarest category (`repeat_factors`); each epoch repeats it floor(r) or ceil(r) times, by
  stochastic rounding, so that on average it appears r times (`balanced_epoch`).  The copies are
  plain repeats: whatever random augmentation the dataset applies anyway makes them differ.
- Class-balancing augmentation (of a fashion-parsing paper): images of the categories below a
  cap of instances are repeated, each repeat marked so that it gets a random rotation of up to
  +-25 degrees and Gaussian noise (`class_balance_plan`, `BalancedDataset`, `balancing_augment`).
  The plan is fixed (a function of the records and the seed); the augmentation is drawn afresh
  each time a copy is loaded, so a copy is a different view in every epoch.

`category_counts` and `format_counts` give the table of instances per category before and
after, printed before training.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from fashionvision.categories import CATEGORY_NAMES
from fashionvision.data.transforms import Compose, GaussianNoise, RandomRotation, Transform
from fashionvision.structures import ImageAnnotation

PlanEntry = tuple[int, bool]  # (dataset index, augment this copy)


def _indices(records: Sequence[ImageAnnotation], indices: Iterable[int] | None) -> Iterable[int]:
    return range(len(records)) if indices is None else indices


def category_counts(
    records: Sequence[ImageAnnotation], indices: Iterable[int] | None = None
) -> dict[int, int]:
    """Instances (garments) per category id, in id order, of the images at `indices` (with
    repeats, e.g. an epoch of `balanced_epoch` or the indices of a `class_balance_plan`), or of
    every record once.  Categories without an instance are absent."""
    counts: Counter[int] = Counter()
    for i in _indices(records, indices):
        counts.update(item.category_id for item in records[i].items)
    return dict(sorted(counts.items()))


def image_counts(
    records: Sequence[ImageAnnotation], indices: Iterable[int] | None = None
) -> dict[int, int]:
    """Images that hold at least one instance of each category id (as `category_counts`)."""
    counts: Counter[int] = Counter()
    for i in _indices(records, indices):
        counts.update({item.category_id for item in records[i].items})
    return dict(sorted(counts.items()))


def repeat_factors(records: Sequence[ImageAnnotation], threshold: float = 0.001) -> list[float]:
    """The LVIS repeat factor of each image: with f(c) the fraction of images that hold category c,
    r(c) = max(1, sqrt(threshold / f(c))), and an image's factor is the largest r(c) of its
    categories; an image with no instance gets 1.

    The default threshold is LVIS's, made for 1,200 categories: on DeepFashion2, whose rarest
    category is in a few tenths of a percent of the images, it repeats nothing; thresholds near
    the image fraction of the categories to lift (e.g. 0.05) do.
    """
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    if not records:
        return []
    images = image_counts(records)
    per_category = {
        c: max(1.0, math.sqrt(threshold / (n / len(records)))) for c, n in images.items()
    }
    return [
        max((per_category[item.category_id] for item in record.items), default=1.0)
        for record in records
    ]


def expected_counts(
    records: Sequence[ImageAnnotation], factors: Sequence[float]
) -> dict[int, float]:
    """Instances per category in an epoch of `balanced_epoch`, on average: each image's
    instances weighted by its factor."""
    _check_factors(records, factors)
    counts: defaultdict[int, float] = defaultdict(float)
    for record, factor in zip(records, factors, strict=True):
        for item in record.items:
            counts[item.category_id] += float(factor)
    return dict(sorted(counts.items()))


def _check_factors(records: Sequence[ImageAnnotation], factors: Sequence[float]) -> None:
    if len(factors) != len(records):
        raise ValueError(f"{len(factors)} factors for {len(records)} records")
    if any(not math.isfinite(f) or f < 0 for f in factors):
        raise ValueError("repeat factors must be finite and >= 0")


def balanced_epoch(
    records: Sequence[ImageAnnotation], factors: Sequence[float], seed: int, epoch: int
) -> list[int]:
    """The dataset indices of one epoch of repeat-factor sampling, shuffled.

    Image i appears floor(r_i) times plus once more with probability r_i - floor(r_i) (stochastic
    rounding), so its expected count is r_i and the epoch's expected length is sum(r).  The result
    is a function of (seed, epoch) only, the same on every process, as `PairBatchSampler` is.
    """
    _check_factors(records, factors)
    rng = np.random.default_rng([seed, epoch])
    r = np.asarray(factors, dtype=np.float64)
    whole = np.floor(r)
    repeats = whole.astype(np.int64) + (rng.random(len(r)) < r - whole)
    epoch_indices = np.repeat(np.arange(len(r)), repeats)
    return [int(i) for i in rng.permutation(epoch_indices)]


def class_balance_plan(
    records: Sequence[ImageAnnotation], cap: int, seed: int, max_repeat: int = 4
) -> list[PlanEntry]:
    """The class-balancing augmentation's list of (dataset index, augment) entries.

    First every record once, in order, as (i, False): originals are never dropped nor altered.
    Then augmented copies (i, True), category by category, rarest first:

    - counts are instances (garments, not images) per category, from the records: a copy adds
      every instance of its image, of whatever category, to the running counts;
    - each image belongs to the pool of its rarest category (fewest instances in the records;
      ties to the lower id), and only a category's own pool is copied for it, so a copy made
      for a rare category does not also lift a rarer one it shares an image with;
    - a category whose running count is below `cap` has its pool copied round-robin (in an
      order drawn from (seed, category)) until the count reaches `cap` or every image in the
      pool has `max_repeat` copies, so copies spread evenly and no image is repeated more than
      `max_repeat` times.  A category that is alone in its images thus ends with
      min(cap, (1 + max_repeat) x its count) instances, give or take its instances per image.

    Counts can overshoot the cap: the last copy of a category adds all of its image's instances
    of it, and the copies add the other categories of their images (a top copied for a rare
    skirt counts as a top too; common categories grow, and a category processed later may
    already be at the cap through copies made for rarer ones).  A category whose images all
    hold a rarer category has an empty pool and grows only through those.  Counts are those of
    the records: a rotated copy can lose an instance that turns out of the image, which the
    plan does not know.  `category_counts(records, [i for i, _ in plan])` gives the counts.
    """
    if cap < 0:
        raise ValueError(f"cap must be >= 0, got {cap}")
    if max_repeat < 0:
        raise ValueError(f"max_repeat must be >= 0, got {max_repeat}")
    before = category_counts(records)
    pools: defaultdict[int, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        categories = {item.category_id for item in record.items}
        if categories:
            pools[min(categories, key=lambda c: (before[c], c))].append(i)
    counts = Counter(before)
    plan: list[PlanEntry] = [(i, False) for i in range(len(records))]
    for c in sorted(before, key=lambda c: (before[c], c)):
        pool = pools.get(c)
        if not pool:
            continue
        # per-category generator: one category's draw does not shift another's
        order = [pool[k] for k in np.random.default_rng([seed, c]).permutation(len(pool))]
        for _ in range(max_repeat):
            for i in order:
                if counts[c] >= cap:
                    break
                plan.append((i, True))
                counts.update(item.category_id for item in records[i].items)
            if counts[c] >= cap:
                break
    return plan


def format_counts(
    before: Mapping[int, float],
    after: Mapping[int, float],
    names: Mapping[int, str] = CATEGORY_NAMES,
) -> str:
    """A table of instances per category, before and after balancing, and the factor between
    them; one row per category of `names` (those without an instance too: a category with none
    cannot be balanced) and per other id of either count; a total row.  Fractional counts (the
    `expected_counts` of repeat-factor sampling) are written with one decimal."""
    ids = sorted(set(names) | set(before) | set(after))
    fractional = any(float(v) != int(v) for v in (*before.values(), *after.values()))

    def number(value: float) -> str:
        return f"{value:.1f}" if fractional else str(int(value))

    def ratio(b: float, a: float) -> str:
        return f"x{a / b:.2f}" if b > 0 else "-"

    rows = [(str(c), names.get(c, "?"), before.get(c, 0), after.get(c, 0)) for c in ids]
    rows.append(("", "total", sum(before.values()), sum(after.values())))
    width = max(len("category"), *(len(name) for _, name, _, _ in rows))
    lines = [f"{'id':>3}  {'category':<{width}}  {'before':>9}  {'after':>9}  {'factor':>7}"]
    for cid, name, b, a in rows:
        lines.append(f"{cid:>3}  {name:<{width}}  {number(b):>9}  {number(a):>9}  {ratio(b, a):>7}")
    return "\n".join(lines)


class BalancedDataset(Dataset):
    """`dataset` seen through a plan of `class_balance_plan`: item j is ``dataset[i]`` for
    ``(i, flag) = plan[j]``, passed through `augment` (e.g. `balancing_augment()`) when the flag
    is set; the dataset's own transforms run first, in ``dataset[i]``.

    `records` (when `dataset` has them) follows the plan, so `PairBatchSampler` and the trainer's
    counts see the copies: a copy keeps its record's pair_id and source.
    """

    def __init__(self, dataset: Any, plan: Sequence[PlanEntry], augment: Transform):
        size = len(dataset)
        bad = [i for i, _ in plan if not 0 <= i < size]
        if bad:
            raise ValueError(f"plan index {bad[0]} out of range for a dataset of {size}")
        self.dataset = dataset
        self.plan: list[PlanEntry] = [(int(i), bool(flag)) for i, flag in plan]
        self.augment = augment

    @property
    def records(self) -> list[ImageAnnotation]:
        return [self.dataset.records[i] for i, _ in self.plan]

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, j: int) -> tuple[Any, dict[str, Any]]:
        index, augment = self.plan[j]
        image, target = self.dataset[index]
        if augment:
            image, target = self.augment(image, target)
        return image, target


def balancing_augment(max_degrees: float = 25.0, noise_std: float = 0.03) -> Transform:
    """The copies' augmentation: a rotation drawn uniformly in [-max_degrees, max_degrees] (the
    uncovered corners filled with the image's mean colour), then Gaussian noise of `noise_std`
    of the intensity range (the paper gives no level; 0.03 is about 8 of 255 grey levels)."""
    return Compose([RandomRotation(max_degrees, prob=1.0), GaussianNoise(noise_std, prob=1.0)])
