"""One rank of tests/engine/test_global_pair_loss.py, started by torchrun (gloo, CPU).

    python -m torch.distributed.run --standalone --nproc_per_node 4 global_pair_loss_worker.py OUT

Rank r holds the RoIs of images 2r and 2r + 1 of `make_rois()` and trains `TinyMatcher` (a linear
"matching head" and a `PairSimilarity`) wrapped in DDP for one backward pass; it saves its loss,
pair counts, the gradient of its own embeddings and the DDP-averaged parameter gradients to
OUT/rank{r}.pt.  The test compares them with one process on all 8 images.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn

from fashionvision.models.matching_head import PairSimilarity, global_pair_loss

FEATURES, DIM = 6, 4
IMAGES_PER_RANK = 2
SAMPLING_SEED = 11  # the generator seed every rank (and the reference) uses
# image k: (pair_id, source, styles of its RoIs).  No rank alone can form a positive pair (rank 0
# holds users only, rank 1 shops only, rank 2 no RoI at all, rank 3 two pair_ids); the 8 images
# together hold positives and cross-pair negatives.  RoI counts differ between ranks.
IMAGES: list[tuple[int, str, list[int]]] = [
    (1, "user", [1, 1, 0]),
    (2, "user", [1, 1]),
    (1, "shop", [1, 1]),
    (1, "shop", [2, 0, 2, 2]),
    (3, "user", []),
    (3, "shop", []),
    (2, "shop", [1, 1, 1]),
    (1, "user", [2]),
]


def make_rois() -> dict[str, Tensor]:
    """All RoIs of the 8 images: features `[N, FEATURES]`, pair_id, style `[N]` int64, is_user
    `[N]` bool, image `[N]` int64 (the image each RoI lies in), category `[N]` int64 (two kinds,
    so that the same-category negatives are a subset the sampler must find across ranks)."""
    gen = torch.Generator().manual_seed(0)
    rows = [(k, pair, source, style) for k, (pair, source, styles) in enumerate(IMAGES)
            for style in styles]  # fmt: skip
    return {
        "features": torch.randn(len(rows), FEATURES, generator=gen),
        "pair_id": torch.tensor([r[1] for r in rows]),
        "style": torch.tensor([r[3] for r in rows]),
        "is_user": torch.tensor([r[2] == "user" for r in rows]),
        "image": torch.tensor([r[0] for r in rows]),
        "category": torch.tensor([1 + (r[1] + r[3]) % 2 for r in rows]),
    }


class TinyMatcher(nn.Module):
    """Linear embeddings + PairSimilarity; forward gives (loss, embeddings [R, DIM], pos, neg)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.embed = nn.Linear(FEATURES, DIM)
        self.similarity = PairSimilarity(DIM)

    def forward(self, rois: dict[str, Tensor]) -> tuple[Tensor, Tensor, int, int]:
        emb = self.embed(rois["features"])
        emb.retain_grad()
        loss, positives, negatives = global_pair_loss(
            self.similarity,
            emb,
            rois["pair_id"],
            rois["style"],
            rois["is_user"],
            neg_ratio=2,
            generator=torch.Generator().manual_seed(SAMPLING_SEED),
            categories=rois["category"],
            same_category_share=0.5,
        )
        return loss, emb, positives, negatives


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    rois = make_rois()
    mine = (rois["image"] // IMAGES_PER_RANK) == rank
    model = nn.parallel.DistributedDataParallel(TinyMatcher())
    loss, emb, positives, negatives = model({k: v[mine] for k, v in rois.items()})
    loss.backward()
    torch.save(
        {
            "loss": loss.detach(),
            "pairs": (positives, negatives),
            "emb_grad": emb.grad,
            "grads": {n: p.grad for n, p in model.module.named_parameters()},
        },
        out / f"rank{rank}.pt",
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
