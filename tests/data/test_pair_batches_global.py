"""PairBatchSampler with several replicas: the ranks' slices at a step form one global batch."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import load_benchmark

from fashionvision.data.dataset import PairBatchSampler

bench = load_benchmark("bench_pair_sampling")
RANKS, PER_RANK = 4, 2
GLOBAL = RANKS * PER_RANK


@pytest.fixture(scope="module")
def records():
    # DeepFashion2-like pair groups (1 + Poisson(3) user, 1 + Poisson(1.2) shop images each)
    return bench.deepfashion2_like_records(600, seed=1)


def _steps(records, epoch=0, drop_last=False):
    samplers = [
        PairBatchSampler(
            records, PER_RANK, seed=4, drop_last=drop_last, num_replicas=RANKS, rank=rank
        )
        for rank in range(RANKS)
    ]
    for s in samplers:
        s.set_epoch(epoch)
    assert len({len(s) for s in samplers}) == 1  # DDP: the same number of steps on every rank
    return [list(step) for step in zip(*samplers, strict=True)]


@pytest.mark.parametrize("epoch", [0, 1])
def test_every_global_batch_has_positives_and_cross_pair_negatives(records, epoch):
    steps = _steps(records, epoch)
    for k, step in enumerate(steps):
        assert [len(b) for b in step] == [PER_RANK] * RANKS, k
        union = [i for b in step for i in b]
        assert len(set(union)) == GLOBAL, k  # slices are disjoint within a step
        seen = bench.combinations(records, union)
        assert seen.user_and_shop and seen.positives > 0 and seen.cross_negatives > 0, k
    counts = Counter(i for step in steps for b in step for i in b)
    assert set(counts) == set(range(len(records)))
    repeated = sum(counts.values()) - len(records)
    assert 0 <= repeated < GLOBAL  # only the one short global batch is padded
    assert len(steps) == -(-len(records) // GLOBAL)


def test_pair_groups_stay_in_one_global_batch(records):
    share = PairBatchSampler(records, PER_RANK, num_replicas=RANKS).group_share
    assert share == GLOBAL // 2
    step_of = {i: k for k, step in enumerate(_steps(records)) for b in step for i in b}
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(r.pair_id, []).append(i)
    whole = 0
    for members in groups.values():
        pieces = -(-len(members) // share)
        spread = len({step_of[i] for i in members})
        # a group is cut into pieces of <= share; re-cutting short batches splits a piece rarely
        assert spread <= pieces + 1
        whole += spread == pieces
    assert whole >= 0.9 * len(groups)


def test_drop_last_drops_only_the_short_global_batch(records):
    steps = _steps(records, drop_last=True)
    flat = [i for step in steps for b in step for i in b]
    assert len(flat) == len(set(flat)) == len(steps) * GLOBAL
    assert len(records) - len(flat) < GLOBAL


def test_a_set_smaller_than_the_global_batch_is_padded_from_itself(records):
    few = records[:3]
    slices = [list(PairBatchSampler(few, PER_RANK, num_replicas=RANKS, rank=r)) for r in range(4)]
    assert [len(s) for s in slices] == [1] * RANKS
    union = [i for s in slices for i in s[0]]
    assert len(union) == GLOBAL and set(union) == {0, 1, 2}
    with pytest.raises(ValueError, match="group_share"):
        PairBatchSampler(few, PER_RANK, num_replicas=RANKS, group_share=GLOBAL + 1)
