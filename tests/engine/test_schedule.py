import pytest
import torch

from fashionvision.engine.schedule import (
    WarmupLR,
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


def _scheduler(lr: float = 0.02) -> tuple[torch.optim.SGD, WarmupLR]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
    return opt, WarmupLR(opt, milestones=[6, 9], gamma=0.1, warmup_iters=4, warmup_factor=0.25)


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


@pytest.mark.parametrize(
    "iteration, factor",
    [(0, 1.0), (25, 0.8535534), (50, 0.5), (75, 0.1464466), (100, 0.0), (130, 0.0)],
)
def test_cosine_falls_from_one_to_zero_over_the_run(iteration, factor):
    kw = {"warmup_iters": 0, "warmup_factor": 1.0, "milestones": [10], "gamma": 0.1}
    got = lr_factor(iteration, **kw, schedule="cosine", max_iters=100)
    assert got == pytest.approx(factor, abs=1e-7)  # the milestone at 10 plays no part


def test_cosine_warm_up_multiplies_the_cosine_as_detectron2_does():
    kw = {"warmup_iters": 10, "warmup_factor": 0.1, "milestones": [], "gamma": 0.1}
    # iteration 5: warm-up 0.1 * 0.5 + 0.5 = 0.55, cosine (1 + cos(pi / 4)) / 2
    expected = 0.55 * (1 + 2**-0.5) / 2
    assert lr_factor(5, **kw, schedule="cosine", max_iters=20) == pytest.approx(expected)


def test_unknown_schedule_or_a_cosine_without_length_fails_when_the_scheduler_is_built():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="max_iters > 0"):
        WarmupLR(opt, milestones=[], schedule="cosine", max_iters=0)
    with pytest.raises(ValueError, match="unknown lr schedule 'linear'"):
        WarmupLR(opt, milestones=[], schedule="linear")


def test_cosine_scheduler_sets_the_lr_of_every_iteration_and_resumes():
    def build(lr: float) -> tuple[torch.optim.SGD, WarmupLR]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
        return opt, WarmupLR(
            opt, milestones=[], warmup_iters=0, warmup_factor=1.0, schedule="cosine", max_iters=4
        )

    opt, sched = build(0.4)
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.4, 0.3414214, 0.2, 0.0585786, 0.0])
    opt2, sched2 = build(0.4)
    sched2.load_state_dict(sched.state_dict())
    assert (sched2.schedule, sched2.max_iters, sched2.last_epoch) == ("cosine", 4, 5)
