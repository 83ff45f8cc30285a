"""Ten kinds of invalid config through the real CLI: exit 2, one line `clarifai-tui: F:LINE: ...`
naming the key where there is one, and the file left exactly as it was (no .bak, no temp)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.faults.support import PYTHON, ROOT, clean_env


@dataclass(frozen=True)
class Bad:
    name: str
    text: str
    line: int
    key: str  # "" where no key applies (a TOML syntax error)
    says: str  # a fragment the message must contain


CASES = [
    Bad("syntax", 'active_profile = "local\n[ui]\n', 1, "", "invalid TOML"),
    Bad(
        "duplicate",
        "[ui]\nper_page = 10\nper_page = 20\n",
        3,
        "",
        "invalid TOML",
    ),
    Bad("unknown-top", 'active_profile = "local"\ncolour = "red"\n', 2, "colour", "unknown key"),
    Bad("unknown-ui", '# c\n[ui]\ntheme = "x"\nfont = "mono"\n', 4, "ui.font", "unknown key"),
    Bad("type", '[ui]\nimage_preview = true\nper_page = "fifty"\n', 3, "ui.per_page", "integer"),
    Bad("range", "[upload]\n\nbatch_size = 500\n", 3, "upload.batch_size", "1-128"),
    Bad(
        "image-protocol",
        '[ui]\nimage_protocol = "iterm"\n',
        2,
        "ui.image_protocol",
        "auto, tgp, sixel, halfblock",
    ),
    Bad(
        "backend",
        '[profiles.cloud]\nbackend = "s3"\n',
        2,
        "profiles.cloud.backend",
        "local, clarifai",
    ),
    Bad(
        "base-url",
        '[profiles.cloud]\nbackend = "clarifai"\nbase_url = "api.clarifai.com"\n',
        3,
        "profiles.cloud.base_url",
        "http://",
    ),
    Bad(
        "active",
        '# which profile\nactive_profile = "nope"\n',
        2,
        "active_profile",
        "no profile named 'nope'",
    ),
    Bad("keymap", '[keymap]\n"no.such.binding" = "x"\n', 2, "keymap.no.such.binding", "binding"),
    Bad(
        "profile-not-table",
        '[profiles]\nlocal = "yes"\n',
        2,
        "profiles.local",
        "must be a table",
    ),
]


def test_ten_kinds_of_invalid_config_exit_2_with_file_line_key(tmp_path: Path) -> None:
    assert len({c.name for c in CASES}) >= 10
    running: list[tuple[Bad, Path, bytes, subprocess.Popen[str]]] = []
    try:
        for case in CASES:
            folder = tmp_path / case.name
            folder.mkdir()
            path = folder / "config.toml"
            path.write_text(case.text, encoding="utf-8")
            os.chmod(path, 0o640)
            before = path.read_bytes()
            proc = subprocess.Popen(
                [PYTHON, "-m", "tui.cli", "--config", str(path)],
                cwd=ROOT,
                env=clean_env(CLARIFAI_TUI_STATE_DIR=str(tmp_path / "state"), TERM="dumb"),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            running.append((case, path, before, proc))
        problems: list[str] = []
        for case, path, before, proc in running:
            out, err = proc.communicate(timeout=60)
            lines = err.strip().splitlines()
            prefix = f"clarifai-tui: {path}:{case.line}: "
            if proc.returncode != 2:
                problems.append(f"{case.name}: exit {proc.returncode}: {err!r}")
            elif len(lines) != 1:
                problems.append(f"{case.name}: not one line: {err!r}")
            elif not lines[0].startswith(prefix):
                problems.append(f"{case.name}: expected {prefix!r}..., got {lines[0]!r}")
            elif case.key and not lines[0].startswith(prefix + case.key + ": "):
                problems.append(f"{case.name}: key {case.key!r} not named: {lines[0]!r}")
            elif case.says not in lines[0]:
                problems.append(f"{case.name}: {case.says!r} not in {lines[0]!r}")
            if out:
                problems.append(f"{case.name}: wrote to stdout: {out!r}")
            if path.read_bytes() != before:
                problems.append(f"{case.name}: the file was changed")
            if (path.stat().st_mode & 0o777) != 0o640:
                problems.append(f"{case.name}: the file mode was changed")
            if sorted(p.name for p in path.parent.iterdir()) != ["config.toml"]:
                problems.append(f"{case.name}: files appeared: {list(path.parent.iterdir())}")
        assert not problems, "\n".join(problems)
    finally:
        for *_, proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)


def test_non_utf8_config_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    data = b'active_profile = "local"\n[ui]\ntheme = "\xff\xfe"\n'
    path.write_bytes(data)
    result = subprocess.run(
        [PYTHON, "-m", "tui.cli", "--config", str(path)],
        cwd=ROOT,
        env=clean_env(TERM="dumb"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"clarifai-tui: {path}"), result.stderr
    assert "UTF-8" in lines[0]
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_symlinked_backup_is_never_followed(tmp_path: Path) -> None:
    """Issue #25 item 6: saving copied the old config (with its PAT) through a symlinked
    `.bak` into another file and made it 0644. The link is replaced, the victim untouched,
    and the backup of a file holding a PAT is 0600."""
    from dataclasses import replace

    from tui.config import load_config, save_config

    path = tmp_path / "config.toml"
    path.write_text(
        '[profiles.cloud]\nbackend = "clarifai"\nbase_url = "https://api.clarifai.com"\n'
        'user_id = "me"\npat = "0123456789abcdef0123"\n'
    )
    path.chmod(0o600)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    victim.chmod(0o640)
    backup = tmp_path / "config.toml.bak"
    backup.symlink_to(victim)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profiles["cloud"], app_id="park")))
    assert victim.read_text() == "precious\n"
    assert (victim.stat().st_mode & 0o777) == 0o640
    assert not backup.is_symlink()
    assert "0123456789abcdef0123" in backup.read_text()
    assert (backup.stat().st_mode & 0o777) == 0o600
