import pytest
from conftest import SMALL_TRAINING

import fashionvision.cli as cli
from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.checkpoint import load_checkpoint

SMALL = SMALL_TRAINING


@pytest.fixture
def main(monkeypatch):
    """The real dispatcher, limited to this command so the test does not depend on the others."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("train",))
    return cli.main


@pytest.mark.slow
def test_train_then_resume_from_the_command_line(tmp_path, main, capsys):
    generate_dataset(tmp_path / "data", train=4, val=0, seed=4, size=64)
    run = tmp_path / "run"
    base = ["train", "match_rcnn_tiny", *SMALL, f"data.root={tmp_path / 'data'}"]
    assert main([*base, "train.max_iters=1", "--out", str(run)]) == 0
    assert "iteration 1" in capsys.readouterr().out
    assert load_checkpoint(run / "last.pt")["iteration"] == 1
    assert main([*base, "train.max_iters=2", "--out", str(run), "--resume"]) == 0
    state = load_checkpoint(run / "last.pt")
    assert (state["iteration"], state["config"]["train"]["max_iters"]) == (2, 2)
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # header + 2 iterations


@pytest.mark.parametrize(
    "extra, message",
    [
        (["solver.lr=0.1"], "error: command line: unknown key 'solver.lr'"),
        (["solver.bogus=1"], "error: command line: unknown key 'solver.bogus'"),
        (["model.norm=batch"], "model.norm"),
        (["data.root=/nonexistent"], "data.root"),
        (["solver.batch_size"], "section.key=value"),
    ],
)
def test_bad_config_exits_1_naming_the_key(tmp_path, main, capsys, extra, message):
    assert main(["train", "match_rcnn_tiny", *extra, "--out", str(tmp_path)]) == 1
    assert message in capsys.readouterr().err


def test_resume_of_a_missing_run_is_an_error_and_creates_nothing(tmp_path, main, capsys):
    run = tmp_path / "never_started"
    assert main(["train", "match_rcnn_tiny", "--out", str(run), "--resume"]) == 1
    err = capsys.readouterr().err
    assert f"--resume: {run / 'last.pt'}: checkpoint not found" in err
    assert not run.exists()
