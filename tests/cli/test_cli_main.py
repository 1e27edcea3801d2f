"""The command dispatcher: every command registers, user errors print without a traceback."""

import pytest

from fashionvision import cli


def test_every_command_module_registers():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = set(sub.choices)
    assert {"synth", "validate", "show", "convert", "evaluate", "evaluate-retrieval", "train",
            "predict", "retrieve", "demo"} <= names


def test_missing_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2
