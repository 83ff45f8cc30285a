"""The README's keyboard reference is the one generated from the bindings."""

from __future__ import annotations

from pathlib import Path

from tui.keyref import BEGIN, END, markdown

ROOT = Path(__file__).resolve().parents[2]


def test_readme_keyboard_reference_is_generated_from_the_bindings() -> None:
    text = (ROOT / "README.md").read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == markdown(), "run: python -m tui.keyref --update"


def test_readme_gives_the_two_setup_commands_and_ci_runs_the_second() -> None:
    text = (ROOT / "README.md").read_text()
    install_and_run = (
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/clarifai-tui"
    )
    install_and_test = (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    assert install_and_run in text
    assert install_and_test in text
    assert install_and_test in (ROOT / ".ci" / "run").read_text()


def test_readme_command_synopses_are_generated_from_argparse() -> None:
    from tui.synopsis import BEGIN, END, markdown

    text = (ROOT / "README.md").read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == markdown(), "run: python -m tui.synopsis --update"
    for option in ("--concurrency", "--no-wait", "--allow-remote", "--create-app"):
        assert option in markdown()


def test_readme_exit_code_table_is_the_one_the_commands_use() -> None:
    import re

    from tui import cli_errors

    text = (ROOT / "README.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| `(\d+)` \|", text, re.MULTILINE)}
    used = {
        value
        for name, value in vars(cli_errors).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert documented == used == {0, 1, 2, 130}


def test_the_architecture_map_names_only_what_exists() -> None:
    """docs/architecture.md walks one image through files and functions (issue #23): every
    path it names exists, and every `path` `Name` pair is defined in that file."""
    import re

    text = (ROOT / "docs" / "architecture.md").read_text()
    pairs = re.findall(
        r"`((?:api|tui|screens|tests|benchmarks|scripts|docs)/[\w/.]*)`(?:\s+`([\w.]+)`)?", text
    )
    assert len(pairs) > 30
    for path, name in pairs:
        target = ROOT / path.split("::")[0]
        assert target.exists(), path
        if not name or target.is_dir():
            continue
        source = target.read_text()
        for part in name.split("."):
            assert re.search(rf"(def|class) {part}\b|^{part}\b", source, re.M), (path, name)
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
