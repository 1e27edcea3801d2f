"""Matching stream of Match R-CNN: RoI features -> embedding; PairSimilarity; pair sampling, loss.

`MatchingHead`: `[R, C, 14, 14]` -> 4 conv (3x3, ReLU) -> global average pooling -> fc -> `[R, D]`.
`PairSimilarity`: `(v1 - v2)^2 -> fc -> logit`; `pair_probabilities` applies the sigmoid and gives
the probability that two garments are the same item.

Training pairs (`sample_pairs`) are built among the positive RoIs of a batch across a user
(consumer) image and a shop image: a pair is positive when both RoIs' GT items have the same
`pair_id` and the same `style` and that style is > 0 (DeepFashion2's definition of one garment),
negative otherwise.
All positives are kept (up to `max_positives`); negatives are drawn at random, `neg_ratio` per
positive (at least `neg_ratio` when a batch has no positive pair, so such batches still teach the
"different" answer).
`global_pair_loss` does this over the whole global batch under torch.distributed (every rank's
RoIs, see its docstring) and over the local batch otherwise.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from fashionvision.engine import distributed as D


def conv_relu_layers(in_channels: int, width: int, num_convs: int) -> list[nn.Module]:
    """`num_convs` x (3x3 conv to `width` channels, padding 1 + ReLU): the conv tower shared by
    the matching and landmark streams (spatial size kept)."""
    layers: list[nn.Module] = []
    for i in range(num_convs):
        layers += [
            nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=1),
            nn.ReLU(inplace=True),
        ]
    return layers


class MatchingHead(nn.Module):
    """`[R, C, h, w]` RoI features -> embeddings `[R, dim]`."""

    def __init__(
        self, in_channels: int, width: int = 256, dim: int = 256, num_convs: int = 4
    ) -> None:
        super().__init__()
        self.convs = nn.Sequential(*conv_relu_layers(in_channels, width, num_convs))
        self.fc = nn.Linear(width, dim)
        for m in self.convs:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.convs(x).mean(dim=(2, 3)))


class PairSimilarity(nn.Module):
    """Logit that two embeddings show the same garment: `fc((v1 - v2)^2)`.

    `forward(a [P, D], b [P, D]) -> [P]` logits of aligned pairs.
    """

    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, 1)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.fc((a - b).pow(2)).squeeze(-1)


def pair_probabilities(similarity: PairSimilarity, emb_a: Tensor, emb_b: Tensor) -> Tensor:
    """All-pairs match probabilities: `emb_a [A, D]`, `emb_b [B, D]` -> `[A, B]` in [0, 1]."""
    a = emb_a[:, None, :].expand(-1, emb_b.shape[0], -1)
    b = emb_b[None, :, :].expand(emb_a.shape[0], -1, -1)
    return torch.sigmoid(similarity(a, b))


def sample_pairs(
    pair_ids: Tensor,
    styles: Tensor,
    is_user: Tensor,
    neg_ratio: int = 3,
    max_positives: int | None = None,
    generator: torch.Generator | None = None,
    categories: Tensor | None = None,
    same_category_share: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Choose user x shop RoI pairs for the pair loss.

    Args:
        pair_ids, styles: `[R]` int64 of each RoI's matched GT item (and its image's pair_id).
        is_user: `[R]` bool, True when the RoI lies in a user (consumer) image, False for shop.
        neg_ratio: negatives drawn per positive.
        max_positives: cap on the positive pairs kept (random subset); None = all.
        generator: random generator for reproducible sampling.
        categories: `[R]` int64 category of each RoI's matched GT item (needed when
            `same_category_share` > 0).
        same_category_share: the share of the negatives drawn, where the batch has them, from
            user x shop pairs of the same category (two different garments of one kind: the
            distinction retrieval must make); the rest are drawn from all other negatives.
            0 = every negative uniformly at random.
    Returns:
        idx_a `[P]` (user RoIs), idx_b `[P]` (shop RoIs),
        target `[P]` float (1 positive, 0 negative).
    """
    device = pair_ids.device
    user = torch.nonzero(is_user).squeeze(1)
    shop = torch.nonzero(~is_user).squeeze(1)
    ua, sb = torch.meshgrid(user, shop, indexing="ij")
    ua, sb = ua.reshape(-1), sb.reshape(-1)
    positive = (pair_ids[ua] == pair_ids[sb]) & (styles[ua] == styles[sb]) & (styles[ua] > 0)

    pos = torch.nonzero(positive).squeeze(1)
    neg = torch.nonzero(~positive).squeeze(1)
    if max_positives is not None and pos.numel() > max_positives:
        pos = pos[torch.randperm(pos.numel(), generator=generator)[:max_positives].to(device)]
    num_neg = min(neg.numel(), neg_ratio * max(pos.numel(), 1))
    neg = neg[torch.randperm(neg.numel(), generator=generator).to(device)]
    if same_category_share > 0:
        if categories is None:
            raise ValueError("sample_pairs: same_category_share > 0 needs the RoIs' categories")
        # the first same-category negatives of the shuffled list, then the rest of it in order
        same = categories[ua[neg]] == categories[sb[neg]]
        num_same = min(int(same.sum()), round(same_category_share * num_neg))
        first = torch.nonzero(same).squeeze(1)[:num_same]
        rest = torch.ones_like(same)
        rest[first] = False
        neg = torch.cat([neg[first], neg[rest][: num_neg - num_same]])
    else:
        neg = neg[:num_neg]

    chosen = torch.cat([pos, neg])
    target = torch.cat(
        [torch.ones(pos.numel(), device=device), torch.zeros(neg.numel(), device=device)]
    )
    return ua[chosen], sb[chosen], target


def pair_loss(similarity: PairSimilarity, emb_a: Tensor, emb_b: Tensor, target: Tensor) -> Tensor:
    """Mean binary cross-entropy with logits over aligned pairs `emb_a [P, D]`, `emb_b [P, D]`,
    `target [P]`; 0 (connected to the graph) when P = 0."""
    logits = similarity(emb_a, emb_b)
    if logits.numel() == 0:
        return logits.sum() * 0.0 + sum(p.sum() * 0.0 for p in similarity.parameters())
    return F.binary_cross_entropy_with_logits(logits, target)


def global_pair_loss(
    similarity: PairSimilarity,
    emb: Tensor,
    pair_ids: Tensor,
    styles: Tensor,
    is_user: Tensor,
    neg_ratio: int = 3,
    max_positives: int | None = None,
    generator: torch.Generator | None = None,
    categories: Tensor | None = None,
    same_category_share: float = 0.0,
) -> tuple[Tensor, int, int]:
    """Pair loss over the RoIs of the global batch: every rank's under torch.distributed.

    Args:
        emb: `[R, D]` embeddings of this rank's positive RoIs (with grad).
        pair_ids, styles, is_user: `[R]` labels of those RoIs, as in `sample_pairs`.
        neg_ratio, max_positives, categories, same_category_share: as in `sample_pairs`,
            applied to the global batch.
        generator: randomness of the pair sampling; required with more than one process, seeded
            identically on every rank (the ranks' global RNGs differ, their pairs must not).
    Returns:
        ``(loss, positives, negatives)``: the scalar loss and the numbers of positive and negative
        pairs it averages (of the global batch; the same on every rank).

    Single process (no process group, or world size 1): `sample_pairs` + `pair_loss` on the local
    RoIs, nothing gathered.

    W > 1 processes: the embeddings and labels of all ranks' RoIs are all-gathered (without grad,
    so they are constants here) and this rank's own embeddings, with grad, are put back in its
    slot.  Every rank then holds the same `[N, D]` tensor, samples the same pairs with the same
    generator and computes the same loss L, so every rank's ``loss_pair`` is the global loss.
    Backward on rank r gives:

    * similarity parameters: the full dL/dtheta, since all pairs pass through the similarity fc on
      every rank;
    * parameters phi behind the embeddings (matching head, backbone): only g_r, the part that flows
      through rank r's own rows; the full gradient is dL/dphi = sum_r g_r.

    DDP averages gradients over ranks: right for theta, W times too small for phi
    ((1/W) sum_r g_r).  So the gradient into the local rows is multiplied by W, with the value
    unchanged (``emb + (W - 1) * (emb - emb.detach())`` is exactly `emb` in the forward pass), and
    DDP's average is then the gradient of L for both.  Scaling the loss itself by W would also
    multiply theta's already complete gradient by W.
    """
    world = D.process_group_size()
    if world > 1:
        if generator is None:
            raise ValueError("global_pair_loss: a generator seeded alike on every rank is needed")
        cats = torch.zeros_like(pair_ids) if categories is None else categories
        labels = torch.stack([pair_ids, styles, is_user.long(), cats], dim=1)
        (all_emb, all_labels), counts = D.all_gather_rows([emb, labels])
        start = sum(counts[: dist.get_rank()])
        local = emb + (world - 1) * (emb - emb.detach())  # gradient x W, value exact
        emb = torch.cat([all_emb[:start], local, all_emb[start + len(emb) :]])
        pair_ids, styles, is_user = all_labels[:, 0], all_labels[:, 1], all_labels[:, 2].bool()
        categories = None if categories is None else all_labels[:, 3]
    ia, ib, target = sample_pairs(
        pair_ids,
        styles,
        is_user,
        neg_ratio,
        max_positives,
        generator,
        categories,
        same_category_share,
    )
    positives = int(torch.count_nonzero(target))
    return pair_loss(similarity, emb[ia], emb[ib], target), positives, len(target) - positives
