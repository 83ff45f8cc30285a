"""Config: defaults, strict validation with file:line:key messages, atomic saves."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from tui.config import (
    DEFAULT_CONFIG_TEXT,
    ConfigError,
    Profile,
    default_config_path,
    load_config,
    parse_config,
    save_config,
)

ROOT = Path(__file__).resolve().parents[2]


def test_example_file_is_the_default_file() -> None:
    assert (ROOT / "config.example.toml").read_text() == DEFAULT_CONFIG_TEXT


def test_first_run_creates_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    config = load_config(path)
    assert path.read_text() == DEFAULT_CONFIG_TEXT
    assert config.active_profile == "local"
    assert config.profile().is_local
    assert config.profiles["clarifai"].backend == "clarifai"
    assert config.ui.per_page == 50
    assert config.upload.batch_size == 128


def test_every_key_is_documented_in_the_example() -> None:
    from tui.config import _PROFILE_KEYS, _UI_KEYS, _UPLOAD_KEYS

    text = DEFAULT_CONFIG_TEXT
    for key in [*_UI_KEYS, *_UPLOAD_KEYS, *_PROFILE_KEYS, "active_profile"]:
        assert f"{key} =" in text or f"`{key} =" in text, key


def test_env_var_overrides_the_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_TUI_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert default_config_path() == tmp_path / "elsewhere.toml"


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = load_config(path)
    changed = config.with_profile(replace(config.profile(), app_id="park"))
    save_config(changed)
    again = load_config(path)
    assert again.profile().app_id == "park"
    assert again.ui == config.ui
    assert again.upload == config.upload
    assert again.profiles["clarifai"] == config.profiles["clarifai"]


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        ("active_profile = 'local'\n[ui\nper_page = 3\n", 2, "", "invalid TOML"),
        ("[ui]\nper_page = 'ten'\n", 2, "ui.per_page", "must be an integer"),
        ("[ui]\nimage_preview = 1\n", 2, "ui.image_preview", "must be true or false"),
        ("[ui]\n\nper_page = 0\n", 3, "ui.per_page", "between 1 and 1000"),
        ("[ui]\nstart_area = 'nowhere'\n", 2, "ui.start_area", "must be one of"),
        ("colour = 'blue'\n", 1, "colour", "unknown key"),
        ("[ui]\ncolour = 'blue'\n", 2, "ui.colour", "unknown key"),
        ("[upload]\nbatch_size = 500\n", 2, "upload.batch_size", "1-128"),
        ("[upload]\nextensions = ['png', 3]\n", 2, "upload.extensions", "non-empty strings"),
        ("[keymap]\n'area.nowhere' = 'x'\n", 2, "keymap.area.nowhere", "unknown binding id"),
        ("[keymap]\n'app.quit' = 3\n", 2, "keymap.app.quit", "must be a string"),
        ("[profiles.x]\nbackend = 'ftp'\n", 2, "profiles.x.backend", "must be one of"),
        (
            "[profiles.x]\nbackend = 'clarifai'\nbase_url = 'api.clarifai.com'\n",
            3,
            "profiles.x.base_url",
            "http://",
        ),
        ("[profiles.x]\nport = 3\n", 2, "profiles.x.port", "unknown key"),
        ("active_profile = 'nope'\n", 1, "active_profile", "no profile named 'nope'"),
    ],
)
def test_validation_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, fragment: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert error.line == line
    assert error.key == key
    message = str(error)
    assert message.startswith(f"{path}:{line}: ")
    assert fragment in message
    assert "\n" not in message
    assert path.read_bytes() == before  # never rewritten


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_unknown_profile_on_the_command_line(tmp_path: Path) -> None:
    config = load_config(tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="no profile named 'staging'"):
        config.profile("staging")


def test_save_keeps_a_backup_and_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    config = load_config(path)
    save_config(config.with_profile(replace(config.profile(), app_id="one")))
    first = path.read_bytes()
    save_config(config.with_profile(replace(config.profile(), app_id="two")))
    assert (tmp_path / "config.toml.bak").read_bytes() == first
    assert load_config(path).profile().app_id == "two"

    # A failure while replacing leaves the current file intact and no temp file behind.
    current = path.read_bytes()

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_config(config.with_profile(replace(config.profile(), app_id="three")))
    assert path.read_bytes() == current
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "config.toml.bak"]


def test_a_file_holding_a_pat_is_private(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = load_config(path)
    save_config(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    remote = replace(config.profiles["clarifai"], pat="secret-pat-value")
    save_config(config.with_profile(remote))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path).profiles["clarifai"].pat == "secret-pat-value"


def test_profile_repr_never_shows_the_pat() -> None:
    profile = Profile(name="c", backend="clarifai", pat="secret-pat-value")
    assert "secret-pat-value" not in repr(profile)


def test_env_pat_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", "from-env")
    assert Profile(name="c", backend="clarifai", pat="saved").resolved_pat() == "from-env"
    monkeypatch.delenv("CLARIFAI_PAT")
    assert Profile(name="c", backend="clarifai", pat="saved").resolved_pat() == "saved"


def test_base_url_falls_back_to_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_API_BASE", "http://127.0.0.1:8585")
    assert Profile(name="c", backend="clarifai").resolved_base_url() == "http://127.0.0.1:8585"
    monkeypatch.delenv("CLARIFAI_API_BASE")
    assert Profile(name="c", backend="clarifai").resolved_base_url() == "https://api.clarifai.com"


def test_keymap_accepts_known_ids(tmp_path: Path) -> None:
    config = parse_config("[keymap]\n'area.explorer' = 'e'\n", tmp_path / "c.toml")
    assert config.keymap == {"area.explorer": "e"}


COMMENTED = """\
# My clarifai-tui settings. Keep this comment.
active_profile = "local"  # which profile opens

[ui]
theme = "textual-dark"
per_page = 40  # fewer rows: my laptop is small

# Profiles below.
[profiles.local]
backend = "local"
app_id = "digits-demo"   # the demo
data_dir = ""

[profiles.cloud]
backend = "clarifai"
base_url = "https://api.clarifai.com"
user_id = "me"
app_id = "park"
pat = "0123456789abcdef0123"
"""


def test_an_app_pick_keeps_every_comment_and_the_rest_of_the_file(tmp_path: Path) -> None:
    """Issue #30 item 5: the first app pick rewrote config.toml and lost every comment."""
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED)
    os.chmod(path, 0o600)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profile(), app_id="park")))
    text = path.read_text()
    assert text == COMMENTED.replace('app_id = "digits-demo"', 'app_id = "park"')
    assert load_config(path).profile().app_id == "park"


def test_saving_an_unchanged_config_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED)
    os.chmod(path, 0o600)
    save_config(load_config(path))
    assert path.read_text() == COMMENTED
    default = tmp_path / "default.toml"
    save_config(load_config(default))
    assert default.read_text() == DEFAULT_CONFIG_TEXT


def test_a_removed_pat_disappears_and_other_keys_stay(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED)
    os.chmod(path, 0o600)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profiles["cloud"], pat="")))
    text = path.read_text()
    assert "pat =" not in text
    assert "# fewer rows: my laptop is small" in text and 'user_id = "me"' in text
