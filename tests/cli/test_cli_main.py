"""The command dispatcher: every command registers, user errors print without a traceback."""

import pytest

from fashionvision import cli


def test_every_command_module_registers():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = set(sub.choices)
    assert {
        "synth",
        "validate",
        "show",
        "convert",
        "evaluate",
        "evaluate-retrieval",
        "train",
        "predict",
        "retrieve",
        "demo",
    } <= names


def test_missing_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2


def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fashionvision {version('fashionvision')}"


def _broken_split(root):
    """One readable image with a truncated annotation file: a lenient load warns."""
    from PIL import Image

    (root / "annos").mkdir(parents=True)
    (root / "image").mkdir()
    (root / "annos" / "000001.json").write_text('{"source": "user", "pair')
    Image.new("RGB", (8, 8)).save(root / "image" / "000001.jpg")
    return root


def test_warnings_are_plain_warning_lines_printed_once(tmp_path, capsys):
    split = _broken_split(tmp_path / "val")
    assert cli.main(["convert", "coco", "--lenient", str(split), str(tmp_path / "c.json")]) == 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {split}: skipped 0 bad items and 1")
    assert "UserWarning" not in err and ".py" not in err


def test_library_warnings_outside_the_cli_stay_python_warnings(tmp_path):
    from fashionvision.data.deepfashion2 import load_split

    with pytest.warns(UserWarning, match="1 unusable files"):
        load_split(_broken_split(tmp_path / "val"), strict=False)


def test_an_os_error_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from fashionvision.cli import convert

    def full(path, *args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(convert, "write_json", full)
    split = _broken_split(tmp_path / "val")
    out = tmp_path / "c.json"
    assert cli.main(["convert", "coco", "--lenient", str(split), str(out)]) == 1
    err = capsys.readouterr().err
    assert f"error: {out}: No space left on device" in err and "Traceback" not in err


# one bad value of every numeric option of every command: a usage error naming the flag
BAD_NUMBERS = [
    (["show", "S", "--out", "g.png", "--n", "0"], "--n", "must be >= 1, got 0"),
    (["show", "S", "--out", "g.png", "--ncols", "0"], "--ncols", "must be >= 1"),
    (["show", "S", "--out", "g.png", "--ncols", "-2"], "--ncols", "must be >= 1"),
    (["show", "S", "--out", "g.png", "--scale", "0"], "--scale", "must be a number > 0"),
    (["show", "S", "--out", "g.png", "--scale", "inf"], "--scale", "must be a number > 0"),
    (["show", "S", "--out", "g.png", "--ids", "0"], "--ids", "must be >= 1"),
    (["show", "S", "--out", "g.png", "--n", "two"], "--n", "expected an integer"),
    (["synth", "D", "--train", "-1"], "--train", "must be >= 0"),
    (["synth", "D", "--val", "-1"], "--val", "must be >= 0"),
    (["synth", "D", "--seed", "-1"], "--seed", "must be >= 0"),
    (["synth", "D", "--size", "32"], "--size", "must be between 64 and 4096"),
    (["synth", "D", "--size", "100000"], "--size", "must be between 64 and 4096"),
    (["synth", "D", "--workers", "0"], "--workers", "must be >= 1"),
    (["predict", "--weights", "w.pt", "i.jpg", "--out", "o", "--score-threshold", "2"],
     "--score-threshold", "must be in [0, 1]"),
    (["predict", "--weights", "w.pt", "i.jpg", "--out", "o", "--batch-size", "0"],
     "--batch-size", "must be >= 1"),
    (["retrieve", "--weights", "w.pt", "--split", "S", "--out", "r.json", "--batch-size", "-1"],
     "--batch-size", "must be >= 1"),
    (["retrieve", "--weights", "w.pt", "--split", "S", "--out", "r.json",
      "--gallery-threshold", "1.5"], "--gallery-threshold", "must be in [0, 1]"),
    (["evaluate", "--weights", "w.pt", "--split", "S", "--batch-size", "0"],
     "--batch-size", "must be >= 1"),
    (["evaluate", "--weights", "w.pt", "--split", "S", "--gallery-threshold", "-1"],
     "--gallery-threshold", "must be in [0, 1]"),
    (["validate", "S", "--max-errors", "-1"], "--max-errors", "must be >= 0"),
    (["demo", "--epochs", "0"], "--epochs", "must be >= 1"),
    (["demo", "--train", "0"], "--train", "must be >= 1"),
    (["demo", "--seed", "-3"], "--seed", "must be >= 0"),
]  # fmt: skip


@pytest.mark.parametrize("argv, flag, message", BAD_NUMBERS)
def test_bad_numbers_are_usage_errors_naming_the_flag(tmp_path, monkeypatch, capsys, argv, flag,
                                                      message):  # fmt: skip
    monkeypatch.chdir(tmp_path)  # nothing may be written; if it were, it lands in tmp_path
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {message}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "S", "--out", "missing/g.png"],
        ["retrieve", "--weights", "w.pt", "--split", "S", "--out", "missing/r.json"],
        ["evaluate", "--weights", "w.pt", "--split", "S", "--json", "missing/all.json"],
        ["evaluate-retrieval", "--query-gt", "q.json", "--results", "r.json",
         "--json", "missing/r.json"],
    ],
)  # fmt: skip
def test_an_output_file_in_a_missing_folder_is_refused_up_front(tmp_path, monkeypatch, capsys,
                                                                argv):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "folder missing does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_show_draws_exactly_n_images(tmp_path, capsys):
    from fashionvision.data.synthetic import generate_dataset

    generate_dataset(tmp_path / "d", train=0, val=3, seed=0, size=64)
    out = tmp_path / "g.png"
    assert cli.main(["show", str(tmp_path / "d" / "validation"), "--n", "2", "--ncols", "1",
                     "--scale", "0.5", "--out", str(out)]) == 0  # fmt: skip
    assert "2 images" in capsys.readouterr().out and out.is_file()


def test_overrides_are_taken_before_and_after_the_options():
    parser = cli.build_parser()
    args = cli.parse_command_line(
        parser, ["train", "match_rcnn_tiny", "a.b=1", "--out", "runs/x", "c.d=2", "e.f=3"]
    )
    assert args.out == "runs/x"
    assert args.overrides == ["a.b=1", "c.d=2", "e.f=3"]  # in the order written
    args = cli.parse_command_line(parser, ["train", "match_rcnn_tiny", "--out", "r"])
    assert args.overrides == []


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "match_rcnn_tiny", "--out", "r", "--no-such-flag"],  # an unknown option
        ["train", "match_rcnn_tiny", "--out", "r", "stray"],  # not KEY=VALUE
        ["validate", "data/train", "a.b=1"],  # a command without overrides
    ],
)
def test_what_is_not_an_override_stays_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
