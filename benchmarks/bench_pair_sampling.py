"""Pair sampling under DDP: what Match R-CNN's pair loss sees, per-rank batches vs global batches.

    python benchmarks/bench_pair_sampling.py [--images 13000] [--ranks 8] [--per-rank 2]
                                             [--epochs 3] [--seed 0]

Builds `ImageAnnotation` records shaped like DeepFashion2 train (no image files) and deals the
epochs of `--ranks` processes x `--per-rank` images (the paper's 8 x 2) in two ways:

- ``old``: `PairBatchSampler` packs batches of `--per-rank` images (its output with one replica,
  unchanged) and the batches are dealt round robin to the ranks, the last step padded with the
  first batches: the scheme before global batches.  The pair loss of a rank sees its own batch.
- ``new``: `PairBatchSampler(num_replicas=ranks)` packs global batches of ranks x per-rank
  images and gives each rank a slice; `global_pair_loss` sees the whole global batch.

Record set: pair groups of U user and S shop images, U = 1 + Poisson(3) and S = 1 + Poisson(1.2)
(about 6.2 images per pair_id, 1.8 user images per shop image).  A group has K = 1 (70 %) or 2
(30 %) styled garments (style 1..K); a shop image shows one of them, a user image all K plus, with
probability 0.3, an unmatched garment (style 0).  A user and a shop image of one pair_id thus
always form a positive pair.  The distribution is an assumption: it was chosen because the old
scheme then shows the per-rank figures measured on the real split (about 92 % of per-rank batches
with a single pair_id, about 32 % with no user x shop combination).

Printed per scheme, averaged over the epochs: the share of pair-loss batches (old: per-rank
batches; new: global batches) with a positive user x shop pair, with a cross-pair negative (a
user and a shop image of different pair_ids) and with both; the share of per-rank batches with a
single pair_id and with no user x shop combination; the share of all positive user x shop image
pairs of the set that meet in a pair-loss batch (splitting groups loses the others); images
repeated as padding per epoch.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from fashionvision.data.dataset import PairBatchSampler
from fashionvision.structures import Garment, ImageAnnotation

MEAN_EXTRA_USERS = 3.0  # U = 1 + Poisson(this)
MEAN_EXTRA_SHOPS = 1.2  # S = 1 + Poisson(this)
TWO_GARMENTS = 0.3  # share of pair groups with 2 styled garments
UNMATCHED = 0.3  # chance that a user image also shows an unmatched (style 0) garment


def _garment(style: int) -> Garment:
    return Garment(1, (0.0, 0.0, 4.0, 4.0), np.zeros((0, 3)), [], style=style)


def deepfashion2_like_records(n_images: int, seed: int = 0) -> list[ImageAnnotation]:
    """About `n_images` records (whole pair groups; see the module docstring), pair groups
    interleaved at random as in a split directory."""
    rng = np.random.default_rng(seed)
    records: list[ImageAnnotation] = []
    pair_id = 0
    while len(records) < n_images:
        pair_id += 1
        styles = 1 + int(rng.random() < TWO_GARMENTS)
        users = 1 + int(rng.poisson(MEAN_EXTRA_USERS))
        shops = 1 + int(rng.poisson(MEAN_EXTRA_SHOPS))
        for source, count in (("user", users), ("shop", shops)):
            for _ in range(count):
                if source == "user":
                    items = [_garment(s) for s in range(1, styles + 1)]
                    items += [_garment(0)] if rng.random() < UNMATCHED else []
                else:
                    items = [_garment(int(rng.integers(1, styles + 1)))]
                image_id = len(records) + 1
                records.append(
                    ImageAnnotation(image_id, f"image/{image_id:06d}.jpg", 8, 8, source, pair_id)
                )
                records[-1].items = items
    return [records[i] for i in rng.permutation(len(records))]


class Combinations(NamedTuple):
    """What the pair loss can draw from one batch of images (user x shop image pairs)."""

    positives: int  # a user and a shop image of one pair_id sharing a style > 0
    cross_negatives: int  # a user and a shop image of different pair_ids
    user_and_shop: bool  # any user x shop combination at all
    pair_ids: int


def combinations(records: Sequence[ImageAnnotation], batch: Sequence[int]) -> Combinations:
    """The user x shop combinations of the images `batch` (indices into `records`)."""
    users = [records[i] for i in batch if records[i].source == "user"]
    shops = [records[i] for i in batch if records[i].source != "user"]
    styles = {id(r): {it.style for it in r.items if it.style > 0} for r in users + shops}
    positives = sum(
        u.pair_id == s.pair_id and bool(styles[id(u)] & styles[id(s)]) for u in users for s in shops
    )
    cross = sum(u.pair_id != s.pair_id for u in users for s in shops)
    pair_ids = len({records[i].pair_id for i in batch})
    return Combinations(positives, cross, bool(users and shops), pair_ids)


def all_positives(records: Sequence[ImageAnnotation]) -> int:
    """Positive user x shop image pairs of the whole set (they lie within pair groups)."""
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(r.pair_id, []).append(i)
    return sum(combinations(records, members).positives for members in groups.values())


def old_steps(
    records: Sequence[ImageAnnotation], ranks: int, per_rank: int, seed: int, epoch: int
) -> list[list[list[int]]]:
    """Steps x ranks x images of the former scheme: per-rank batches dealt round robin, the last
    step padded with the first batches."""  # fmt: skip
    sampler = PairBatchSampler(records, per_rank, seed=seed)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    batches += batches[: -len(batches) % ranks]
    return [batches[k : k + ranks] for k in range(0, len(batches), ranks)]


def new_steps(
    records: Sequence[ImageAnnotation], ranks: int, per_rank: int, seed: int, epoch: int
) -> list[list[list[int]]]:
    """Steps x ranks x images of `PairBatchSampler` with `ranks` replicas."""  # fmt: skip
    per_rank_batches = []
    for rank in range(ranks):
        sampler = PairBatchSampler(records, per_rank, seed=seed, num_replicas=ranks, rank=rank)
        sampler.set_epoch(epoch)
        per_rank_batches.append(list(sampler))
    return [list(step) for step in zip(*per_rank_batches, strict=True)]


def scheme_stats(
    records: Sequence[ImageAnnotation], steps: list[list[list[int]]], global_loss: bool
) -> dict[str, float]:
    """Shares (0..1) over the pair-loss batches and the per-rank batches of one epoch, and the
    share of the set's positive user x shop image pairs that meet in some pair-loss batch."""
    rank_batches = [b for step in steps for b in step]
    seen = [[i for b in step for i in b] for step in steps] if global_loss else rank_batches
    loss_views = [combinations(records, b) for b in seen]
    per_rank = [combinations(records, b) for b in rank_batches]
    dealt = sum(len(b) for b in rank_batches)
    return {
        "pair-loss batches": len(loss_views),
        "with a positive pair": np.mean([c.positives > 0 for c in loss_views]),
        "with a cross-pair negative": np.mean([c.cross_negatives > 0 for c in loss_views]),
        "with both": np.mean([c.positives > 0 < c.cross_negatives for c in loss_views]),
        "positive image pairs seen": sum(c.positives for c in loss_views) / all_positives(records),
        "per-rank batches, one pair_id": np.mean([c.pair_ids == 1 for c in per_rank]),
        "per-rank batches, no user x shop": np.mean([not c.user_and_shop for c in per_rank]),
        "padding images": dealt - len(records),
    }


def run(images: int, ranks: int, per_rank: int, epochs: int, seed: int) -> None:
    records = deepfashion2_like_records(images, seed)
    groups = len({r.pair_id for r in records})
    users = sum(r.source == "user" for r in records)
    print(
        f"{len(records)} images ({users} user, {len(records) - users} shop), {groups} pair_ids; "
        f"{ranks} ranks x {per_rank} images; mean of {epochs} epoch(s)"
    )
    table: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    seconds = 0.0
    for epoch in range(epochs):
        table["old"].append(scheme_stats(records, old_steps(records, ranks, per_rank, seed, epoch),
                                         global_loss=False))  # fmt: skip
        start = time.perf_counter()
        steps = new_steps(records, ranks, per_rank, seed, epoch)
        seconds += time.perf_counter() - start
        table["new"].append(scheme_stats(records, steps, global_loss=True))
    old = {k: float(np.mean([e[k] for e in table["old"]])) for k in table["old"][0]}
    new = {k: float(np.mean([e[k] for e in table["new"]])) for k in table["new"][0]}
    print(f"  {'':<36} {'old: per-rank loss':>19} {'new: global loss':>17}")
    for key in old:
        is_count = key in ("pair-loss batches", "padding images")
        cell = "{:>19.0f} {:>17.0f}" if is_count else "{:>18.1%} {:>17.1%}"
        label = f"  {key}" if key.startswith("with") else key
        print(f"  {label:<36} " + cell.format(old[key], new[key]))
    print(f"  new sampler, all {ranks} ranks: {seconds / epochs:.2f} s per epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=13000, help="about this many records")
    parser.add_argument("--ranks", type=int, default=8, help="processes")
    parser.add_argument("--per-rank", type=int, default=2, help="images per process and step")
    parser.add_argument("--epochs", type=int, default=3, help="epochs averaged")
    parser.add_argument("--seed", type=int, default=0, help="records and sampler seed")
    args = parser.parse_args()
    run(args.images, args.ranks, args.per_rank, args.epochs, args.seed)


if __name__ == "__main__":
    main()
