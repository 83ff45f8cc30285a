"""The command line: parsing, --version staying light, config errors exiting 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui import __version__
from tui.cli import build_parser, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"clarifai-tui {__version__}"
    with pytest.raises(SystemExit) as info:  # also among other options, through argparse
        main(["--profile", "local", "--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"clarifai-tui {__version__}"


def test_version_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        "main(['--version'])\n"
        "heavy = [m for m in ('textual', 'numpy', 'clarifai_grpc', 'google.protobuf', 'httpx',"
        " 'PIL', 'sklearn', 'starlette', 'argparse', 'tomllib') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {"area": None, "config": None, "profile": None, "app": None}),
        (["explorer"], {"area": "explorer"}),
        (
            ["--config", "/tmp/c.toml", "--profile", "clarifai", "--app", "park", "models"],
            {"config": "/tmp/c.toml", "profile": "clarifai", "app": "park", "area": "models"},
        ),
    ],
)
def test_parsing(argv: list[str], expected: dict[str, object]) -> None:
    args = vars(build_parser().parse_args(argv))
    for key, value in expected.items():
        assert args[key] == value


@pytest.mark.parametrize("argv", [["--frobnicate"], ["nowhere"], ["explorer", "extra"]])
def test_unknown_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: clarifai-tui" in capsys.readouterr().err


def test_config_syntax_error_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"active_profile = 'local'\n[ui\n")
    before = path.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(path)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"clarifai-tui: {path}:2: invalid TOML")
    assert path.read_bytes() == before


def test_unknown_profile_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--config", str(tmp_path / "c.toml"), "--profile", "staging"])
    assert info.value.code == 2
    assert "no profile named 'staging'" in capsys.readouterr().err
