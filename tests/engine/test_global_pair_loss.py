"""The pair loss over the global batch: 4 CPU processes (torchrun, gloo) against one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from global_pair_loss_worker import TinyMatcher, make_rois

from fashionvision.models.matching_head import (
    PairSimilarity,
    global_pair_loss,
    pair_loss,
    sample_pairs,
)

WORKER = Path(__file__).with_name("global_pair_loss_worker.py")
WORLD = 4
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # 4 processes share the CI's 2 cores


def _torchrun(*args: str) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", str(WORLD), *args]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_single_process_is_the_local_pair_loss() -> None:
    """Without a process group nothing is gathered: sample_pairs + pair_loss on the local RoIs."""
    rois = make_rois()
    torch.manual_seed(0)
    emb, sim = torch.randn(len(rois["features"]), 4), PairSimilarity(4)
    labels = rois["pair_id"], rois["style"], rois["is_user"]
    loss, positives, negatives = global_pair_loss(
        sim, emb, *labels, neg_ratio=2, generator=torch.Generator().manual_seed(3)
    )
    a, b, target = sample_pairs(*labels, neg_ratio=2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(loss, pair_loss(sim, emb[a], emb[b], target))
    assert (positives, negatives) == (int(target.sum()), len(target) - int(target.sum()))
    assert positives > 0 and negatives > 0


@pytest.mark.slow
def test_four_ranks_compute_the_single_process_loss_and_gradient(tmp_path: Path) -> None:
    _torchrun(str(WORKER), str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    # the reference: one process with the 8 images' RoIs, the same weights and sampling seed
    model = TinyMatcher()
    rois = make_rois()
    loss, emb, positives, negatives = model(rois)
    loss.backward()
    assert positives > 0 and negatives > 0

    for r, got in enumerate(ranks):
        # every rank computes the global loss on identical gathered tensors: bitwise equal
        assert torch.equal(got["loss"], ranks[0]["loss"]), r
        assert torch.allclose(got["loss"], loss.detach(), rtol=1e-6, atol=1e-7), r
        assert got["pairs"] == (positives, negatives), r
        # DDP's average of the ranks' gradients is the single-process gradient, for the
        # embedding layer (each rank back-propagates its own rows, x W) and the similarity fc
        # (each rank has the full gradient)
        for name, param in model.named_parameters():
            assert torch.allclose(got["grads"][name], param.grad, rtol=1e-5, atol=1e-7), (r, name)
    # each rank's own rows get W x their part of the single-process gradient (the W undoes
    # DDP's averaging); concatenated over ranks they are W x the reference gradient
    per_rank = torch.cat([got["emb_grad"] for got in ranks])
    assert torch.allclose(per_rank / WORLD, emb.grad, rtol=1e-5, atol=1e-8)


# A real 4 x 2 training run that logs both kinds of pairs every step: tests/engine/test_ddp.py.
