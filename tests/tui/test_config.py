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


def test_old_files_without_image_protocol_still_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[ui]\nimage_preview = false\n")
    ui = load_config(path).ui
    assert (ui.image_preview, ui.image_protocol) == (False, "auto")
    path.write_text("[ui]\nimage_protocol = 'halfblock'\n")
    assert load_config(path).ui.image_protocol == "halfblock"


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
        (
            "[ui]\nimage_protocol = 'kitty'\n",
            2,
            "ui.image_protocol",
            "must be one of auto, tgp, sixel, halfblock, not 'kitty'",
        ),
        ("[ui]\nimage_protocol = true\n", 2, "ui.image_protocol", "must be a string"),
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


# --------------------------------------------------------------------------------------------
# Saving edits the user's file: comments, order and layout survive (issue #30 item 5).

COMMENTED = """\
# My clarifai-tui settings -- hand-written, keep these notes.
#   (second line of the header)

active_profile = 'cloud'   # switched to the real API in March

# --- looks ---------------------------------------------------------------------------------
[ui]
per_page   = 25    # big terminal
theme = "nord"

[keymap]
'app.quit' = "ctrl+q"  # muscle memory
"area.explorer" = 'e'

# --- where things are ----------------------------------------------------------------------
[profiles.cloud]
backend = "clarifai"
user_id = "ada"   # my account
app_id = "old-app"   # the app picker rewrites this
# keep the trailing comment of the table

[profiles.local]
backend = "local"
"""


def _write(tmp_path: Path, text: str, mode: int = 0o644) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_saving_a_changed_app_keeps_every_comment_and_other_key(tmp_path: Path) -> None:
    path = _write(tmp_path, COMMENTED)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profile(), app_id="new-app")))
    expected = COMMENTED.replace('app_id = "old-app"', 'app_id = "new-app"')
    assert path.read_text() == expected
    assert load_config(path).profile().app_id == "new-app"
    assert (tmp_path / "config.toml.bak").read_text() == COMMENTED


def test_saving_an_unchanged_config_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = _write(tmp_path, COMMENTED)
    before = path.read_bytes()
    save_config(load_config(path))
    assert path.read_bytes() == before
    # Nothing to change: no write, so the last real backup is not replaced by a copy.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_saving_the_first_run_file_unchanged_keeps_the_template(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(load_config(path))
    assert path.read_text() == DEFAULT_CONFIG_TEXT


def test_saving_without_a_file_writes_the_commented_template(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    config = load_config(path, create=False)
    assert not path.exists()
    save_config(config.with_profile(replace(config.profile(), app_id="park")))
    text = path.read_text()
    assert text.startswith("# clarifai-tui configuration.")
    # Only the app line of [profiles.local] differs from the template.
    local_app = (
        '# The app opened at start; the app picker remembers the last one here.\napp_id = ""'
    )
    assert text == DEFAULT_CONFIG_TEXT.replace(local_app, local_app[:-2] + '"park"')
    assert not (tmp_path / "sub" / "config.toml.bak").exists()


def test_removed_keys_disappear_and_others_stay(tmp_path: Path) -> None:
    path = _write(tmp_path, COMMENTED)
    config = load_config(path)
    keymap = {"area.explorer": "e"}  # 'app.quit' dropped
    profiles = {name: p for name, p in config.profiles.items()}
    saved = replace(config, keymap=keymap, profiles=profiles)
    save_config(saved)
    text = path.read_text()
    assert "app.quit" not in text and "muscle memory" not in text
    assert "\"area.explorer\" = 'e'" in text
    assert text == COMMENTED.replace("'app.quit' = \"ctrl+q\"  # muscle memory\n", "")


def test_a_cleared_pat_is_removed_from_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, COMMENTED)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profile(), pat="secret-pat-value")))
    assert 'pat = "secret-pat-value"' in path.read_text()
    save_config(config)
    assert path.read_text() == COMMENTED


def test_a_new_key_goes_after_the_tables_last_key(tmp_path: Path) -> None:
    path = _write(tmp_path, COMMENTED)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profile(), pat="secret-pat-value")))
    expected = COMMENTED.replace(
        "   # the app picker rewrites this\n",
        '   # the app picker rewrites this\npat = "secret-pat-value"\n',
    )
    assert path.read_text() == expected


def test_a_new_key_in_a_table_of_comments_goes_after_them(tmp_path: Path) -> None:
    config = load_config(tmp_path / "config.toml")
    save_config(replace(config, keymap={"area.explorer": "e"}))
    text = (tmp_path / "config.toml").read_text()
    assert '# "app.quit" = "ctrl+q"\n"area.explorer" = "e"\n\n# The embedded' in text


def test_a_removed_profile_and_a_new_one(tmp_path: Path) -> None:
    path = _write(tmp_path, COMMENTED)
    config = load_config(path)
    profiles = {"cloud": config.profiles["cloud"], "local": config.profiles["local"]}
    profiles["staging"] = Profile(name="staging", backend="clarifai", app_id="s")
    save_config(replace(config, profiles=profiles))
    again = load_config(path)
    assert again.profiles["staging"] == profiles["staging"]
    assert path.read_text().startswith(COMMENTED)
    del profiles["staging"]
    save_config(replace(config, profiles=profiles))
    assert "staging" not in load_config(path).profiles
    assert path.read_text().rstrip("\n") == COMMENTED.rstrip("\n")  # the table's blank line stays


def test_a_pat_makes_the_edited_file_private_and_other_modes_are_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, COMMENTED, mode=0o640)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profile(), app_id="a")))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the user's choice stays
    save_config(config.with_profile(replace(config.profile(), pat="secret-pat-value")))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "config.toml.bak").stat().st_mode) == 0o640


def test_a_hand_added_pat_in_a_loose_file_is_made_private_on_save(tmp_path: Path) -> None:
    path = _write(tmp_path, COMMENTED.replace("[profiles.local]", "pat = 'p'\n[profiles.local]"))
    config = load_config(path)
    save_config(config)  # unchanged, but the mode is wrong for a PAT
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "text",
    [
        "active_profile = 'local'\n[ui\nper_page = 3\n",  # invalid TOML
        "# note\n[ui]\nper_page = 0\n",  # valid TOML, invalid value
    ],
)
def test_an_invalid_file_is_reported_and_never_overwritten(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text, mode=0o640)
    config = parse_config(DEFAULT_CONFIG_TEXT, path)
    with pytest.raises(ConfigError) as loading:
        load_config(path)
    with pytest.raises(ConfigError) as saving:
        save_config(config.with_profile(replace(config.profile(), app_id="park")))
    assert str(saving.value) == str(loading.value)
    assert path.read_text() == text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_non_utf8_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe garbage")
    config = parse_config(DEFAULT_CONFIG_TEXT, path)
    with pytest.raises(ConfigError, match="not UTF-8"):
        save_config(config)
    assert path.read_bytes() == b"\xff\xfe garbage"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_tomlkit_is_imported_only_to_save() -> None:
    import subprocess
    import sys

    code = "import sys, tui.config; print('tomlkit' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


PICKED_APP_FILE = """\
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
    path.write_text(PICKED_APP_FILE)
    os.chmod(path, 0o600)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profile(), app_id="park")))
    text = path.read_text()
    assert text == PICKED_APP_FILE.replace('app_id = "digits-demo"', 'app_id = "park"')
    assert load_config(path).profile().app_id == "park"


def test_an_unchanged_commented_config_and_the_default_stay_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(PICKED_APP_FILE)
    os.chmod(path, 0o600)
    save_config(load_config(path))
    assert path.read_text() == PICKED_APP_FILE
    default = tmp_path / "default.toml"
    save_config(load_config(default))
    assert default.read_text() == DEFAULT_CONFIG_TEXT


def test_a_removed_pat_disappears_and_other_keys_stay(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(PICKED_APP_FILE)
    os.chmod(path, 0o600)
    config = load_config(path)
    save_config(config.with_profile(replace(config.profiles["cloud"], pat="")))
    text = path.read_text()
    assert "pat =" not in text
    assert "# fewer rows: my laptop is small" in text and 'user_id = "me"' in text
