import pytest
import torch

from fashionvision.engine.schedule import (
    WarmupMultiStepLR,
    epochs_to_iters,
    lr_factor,
    scaled_1x_steps,
)

KW = {"warmup_iters": 100, "warmup_factor": 0.001, "milestones": [800, 1100], "gamma": 0.1}


@pytest.mark.parametrize(
    "iteration, factor",
    [
        (0, 0.001),
        (50, 0.5005),
        (99, 0.99001),
        (100, 1.0),
        (799, 1.0),
        (800, 0.1),
        (1099, 0.1),
        (1100, 0.01),
        (5000, 0.01),
    ],
)
def test_lr_factor_warmup_then_steps(iteration, factor):
    assert lr_factor(iteration, **KW) == pytest.approx(factor)


def test_no_warmup_and_epochs_to_iters():
    assert lr_factor(0, warmup_iters=0, warmup_factor=0.001, milestones=[], gamma=0.1) == 1.0
    assert epochs_to_iters((8, 11), 500) == [4000, 5500]
    # fractional epochs keep a short run's 1x proportions (7 * 8/12, 7 * 11/12 epochs of 900)
    assert epochs_to_iters((4.67, 6.42), 900) == [4203, 5778]


def _scheduler(lr: float = 0.02) -> tuple[torch.optim.SGD, WarmupMultiStepLR]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
    return opt, WarmupMultiStepLR(
        opt, milestones=[6, 9], gamma=0.1, warmup_iters=4, warmup_factor=0.25
    )


def test_scheduler_sets_the_lr_of_every_iteration():
    opt, sched = _scheduler()
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [0.005, 0.00875, 0.0125, 0.01625, 0.02, 0.02, 0.002, 0.002, 0.002, 0.0002]
    assert seen == pytest.approx(expected)


def test_scheduler_state_round_trips():
    opt, sched = _scheduler()
    for _ in range(7):
        opt.step()
        sched.step()
    opt2, sched2 = _scheduler(lr=0.5)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    assert sched2.last_epoch == 7 and sched2.milestones == [6, 9]
    opt.step(), sched.step(), opt2.step(), sched2.step()
    assert (
        opt2.param_groups[0]["lr"]
        == pytest.approx(opt.param_groups[0]["lr"])
        == pytest.approx(0.002)
    )


def test_scaled_1x_steps_keep_the_1x_proportions() -> None:
    assert scaled_1x_steps(12) == [8.0, 11.0]
    assert scaled_1x_steps(7) == [4.67, 6.42]  # 67 % of the run at the full lr, as in 1x
    assert scaled_1x_steps(7, whole_epochs=True) == [4.0, 6.0]  # 57 %: the old flooring
    assert scaled_1x_steps(1) == [0.67, 0.92]
    assert epochs_to_iters(scaled_1x_steps(4), 1575) == [4205, 5780]
