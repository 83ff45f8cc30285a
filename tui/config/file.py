"""The config file on disk: where it lives, loading it (created from the defaults on first
run), and saving in place with tomlkit, atomically, with a `.bak` of the old file."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.config.schema import (
    APP_NAME,
    DEFAULT_CONFIG_TEXT,
    ENV_CONFIG,
    Config,
    ConfigError,
    Profile,
    parse_config,
)

if TYPE_CHECKING:
    from tomlkit import TOMLDocument


def default_config_path() -> Path:
    """`CLARIFAI_TUI_CONFIG` if set, else `<platform config dir>/clarifai-tui/config.toml`."""
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def load_config(path: Path | None = None, *, create: bool = True) -> Config:
    """Load (creating from defaults on first run) and validate the config file."""
    path = path or default_config_path()
    if not path.exists():
        if not create:
            return parse_config(DEFAULT_CONFIG_TEXT, path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, DEFAULT_CONFIG_TEXT, mode=0o644, backup=None)
        except OSError as exc:
            raise ConfigError(path, f"cannot create the default config: {exc.strerror}") from None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "invalid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from None
    return parse_config(text, path)


def _profile_table(profile: Profile) -> dict[str, str]:
    """A new `[profiles.<name>]` table: the keys that describe this kind of backend."""
    table = {"backend": profile.backend}
    if profile.backend == "clarifai" or profile.base_url:
        table["base_url"] = profile.base_url
    table.update({"user_id": profile.user_id, "app_id": profile.app_id})
    if profile.backend == "local" or profile.data_dir:
        table["data_dir"] = profile.data_dir
    if profile.pat:
        table["pat"] = profile.pat
    return table


def save_config(config: Config) -> None:
    """Edit the file in place to say what `config` says, atomically; `.bak` keeps the old one.

    The file is the user's: it is parsed with tomlkit and only the keys whose values differ
    from what the file says now are rewritten (their line-end comments kept), so comments, key
    order, blank lines and quoting survive, and saving an unchanged config writes nothing.
    New keys go after the last key of their table (before the comments that introduce the next
    table), new tables at the end; keys the config no longer has (a cleared `pat`, a dropped
    keymap entry, a deleted profile) are removed. Without a file, the commented default file
    is the starting point, as on first run.

    An existing file that does not load (invalid TOML, not UTF-8, a bad value) is reported
    with the same ConfigError as `load_config` and never overwritten. The result is re-parsed
    and must load as `config` before anything is written. The new file keeps the old one's
    mode (0644 for a new file), and is 0600 whenever it holds a PAT.
    """
    import tomlkit

    path = config.path
    try:
        old_bytes: bytes | None = path.read_bytes()
    except FileNotFoundError:
        old_bytes = None
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from None
    try:
        old_text = DEFAULT_CONFIG_TEXT if old_bytes is None else old_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "invalid TOML: the file is not UTF-8 text") from None
    old = parse_config(old_text, path)  # an invalid file is reported and kept as it is
    doc = tomlkit.parse(old_text)
    _edit_document(doc, old, config)
    text = tomlkit.dumps(doc)
    if parse_config(text, path) != config:  # never write what would not load back as config
        raise ConfigError(
            path, "the file's layout cannot take this change; edit it by hand (nothing written)"
        )

    private = any(p.pat for p in config.profiles.values())
    old_mode = None if old_bytes is None else stat.S_IMODE(path.stat().st_mode)
    mode = 0o600 if private else (0o644 if old_mode is None else old_mode)
    if text == old_text and mode == old_mode:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if old_bytes is not None and old_mode is not None:
        holds_pat = any(p.pat for p in old.profiles.values())
        backup = (old_bytes, 0o600 if holds_pat else old_mode)
    _atomic_write(path, text, mode=mode, backup=backup)


def _edit_document(doc: TOMLDocument, old: Config, new: Config) -> None:
    """Change `doc` (which loads as `old`) only where `new` differs from `old`."""
    if new.active_profile != old.active_profile:
        doc["active_profile"] = new.active_profile
    for name, before, after in (("ui", old.ui, new.ui), ("upload", old.upload, new.upload)):
        for item in fields(after):
            value = getattr(after, item.name)
            if value != getattr(before, item.name):
                value = list(value) if isinstance(value, tuple) else value
                _set_key(_table(doc, name), item.name, value)

    for binding_id in old.keymap.keys() - new.keymap.keys():
        _remove_key(doc, "keymap", binding_id)
    for binding_id, keys in new.keymap.items():
        if old.keymap.get(binding_id) != keys:
            _set_key(_table(doc, "keymap"), binding_id, keys)

    for name in old.profiles.keys() - new.profiles.keys():
        _remove_key(doc, "profiles", name)
    for name, profile in new.profiles.items():
        before_profile = old.profiles.get(name)
        if profile == before_profile:
            continue
        profiles = _table(doc, "profiles")
        if before_profile is None or name not in profiles:
            # A profile the file has no table for (the implicit `local` included).
            profiles[name] = _profile_table(profile)
            continue
        for item in fields(profile):
            value = getattr(profile, item.name)
            if item.name == "name" or value == getattr(before_profile, item.name):
                continue
            if item.name == "pat" and not value:
                _remove_key(profiles, name, "pat")
            else:
                _set_key(profiles[name], item.name, value)


def _table(container: Any, name: str) -> Any:
    """The table `name` in `container`, added at its end when the file has none."""
    import tomlkit

    if name not in container:
        container[name] = tomlkit.table(is_super_table=name == "profiles")
    return container[name]


def _remove_key(container: Any, name: str, key: str) -> None:
    if name in container and key in container[name]:
        del container[name][key]


def _set_key(table: Any, key: str, value: object) -> None:
    """Set `key`; a new one goes right after the table's last key (or its leading comments).

    tomlkit appends new keys at the very end of a table's body, which is after the comments
    and blank line that introduce the next table. For a plain `[table]` the key is inserted
    after the last key-value line instead, or, in a table with no keys yet, after its leading
    comment block. Inline tables, dotted keys and split tables get tomlkit's own placement.
    """
    from tomlkit.items import AoT, Table, Whitespace

    if key in table or not isinstance(table, Table) or table.is_super_table():
        table[key] = value
        return
    body = table.value.body
    first_table = next(
        (i for i, (_, item) in enumerate(body) if isinstance(item, (Table, AoT))), len(body)
    )
    keyed = [i for i, (k, _) in enumerate(body[:first_table]) if k is not None]
    if keyed:
        index = keyed[-1] + 1
    else:
        blanks = [
            i for i, (_, item) in enumerate(body[:first_table]) if isinstance(item, Whitespace)
        ]
        index = blanks[0] if blanks else first_table
    insert_at = getattr(table.value, "_insert_at", None)
    if index >= len(body) or insert_at is None:
        table[key] = value
    else:
        insert_at(index, key, value)


def _atomic_write(path: Path, text: str, *, mode: int, backup: tuple[bytes, int] | None) -> None:
    """Temp file in the same folder with `mode`, fsync, `.bak` of the old bytes, rename."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if backup is not None:
            _write_backup(path.with_name(path.name + ".bak"), *backup)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_backup(backup: Path, data: bytes, mode: int) -> None:
    """Write `data` to `backup` with `mode`, never through a symlink or into another file.

    Decision: whatever sits at the backup path (a symlink, a hard link to someone else's file,
    a stale `.bak` with looser permissions) is unlinked, never followed, and the backup is a
    new file made with O_CREAT | O_EXCL | O_NOFOLLOW. O_EXCL rather than O_TRUNC: truncating an
    existing file would write into whatever it is hard-linked to and keep its old mode, and
    O_EXCL also fails (instead of following) if a symlink is planted again between the unlink
    and the open; then the save fails with that OSError and the config is left untouched.
    The mode is the config file's own, 0600 when the old file holds a PAT, applied with fchmod
    so the umask cannot change it.
    """
    backup.unlink(missing_ok=True)  # unlinks a symlink itself, never its target
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(backup, flags, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
