"""The `.bak` a config save leaves behind: never written through a link, never readable by
others when it holds a PAT (issue #25 item 6)."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

from tui.config import load_config, save_config

PAT = "pat-value-that-must-not-leak-0123456789"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_symlinked_bak_leaves_its_target_alone(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    config = load_config(path)
    saved = config.with_profile(replace(config.profiles["clarifai"], pat=PAT))
    save_config(saved)  # the file now holds the PAT
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file\n")
    os.chmod(victim, 0o644)
    backup = path.with_name("config.toml.bak")
    backup.unlink(missing_ok=True)
    backup.symlink_to(victim)
    before = path.read_bytes()

    save_config(saved.with_profile(replace(saved.profile(), app_id="park")))

    assert victim.read_text() == "someone else's file\n"
    assert _mode(victim) == 0o644
    assert not backup.is_symlink()
    assert backup.read_bytes() == before
    assert _mode(backup) == 0o600


def test_a_hard_linked_bak_leaves_the_other_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = load_config(path)
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file\n")
    os.link(victim, path.with_name("config.toml.bak"))

    save_config(config.with_profile(replace(config.profile(), app_id="park")))

    assert victim.read_text() == "someone else's file\n"
    assert path.with_name("config.toml.bak").read_bytes() != victim.read_bytes()


def test_the_bak_of_a_pat_config_is_private(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = load_config(path)
    saved = config.with_profile(replace(config.profiles["clarifai"], pat=PAT))
    save_config(saved)
    backup = path.with_name("config.toml.bak")
    # A stale, world-readable .bak from an earlier save must not keep its mode.
    backup.write_text("old\n")
    os.chmod(backup, 0o644)

    save_config(saved.with_profile(replace(saved.profiles["clarifai"], pat="")))

    assert PAT in backup.read_text()
    assert _mode(backup) == 0o600
    assert PAT not in path.read_text()


def test_the_bak_of_a_hand_written_pat_config_is_private(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[profiles.cloud]\nbackend = "clarifai"\npat = "{PAT}"\n')
    os.chmod(path, 0o644)  # the user's own (too loose) choice
    config = load_config(path)

    save_config(config.with_profile(replace(config.profile(), app_id="park")))

    assert PAT in path.with_name("config.toml.bak").read_text()
    assert _mode(path.with_name("config.toml.bak")) == 0o600
    assert _mode(path) == 0o600


def test_the_bak_of_a_plain_config_keeps_the_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = load_config(path)
    os.chmod(path, 0o640)

    save_config(config.with_profile(replace(config.profile(), app_id="park")))

    assert _mode(path.with_name("config.toml.bak")) == 0o640
