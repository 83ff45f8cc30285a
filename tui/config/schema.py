"""What the config file may say: the dataclasses, the commented default file, and
`parse_config`, which validates strictly (a wrong type or an unknown key raises `ConfigError`
naming the file, the line and the key)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from tui.widgets.bindings import known_binding_ids

APP_NAME: Final = "clarifai-tui"
ENV_CONFIG: Final = "CLARIFAI_TUI_CONFIG"
ENV_PAT: Final = "CLARIFAI_PAT"
ENV_API_BASE: Final = "CLARIFAI_API_BASE"
DEFAULT_BASE_URL: Final = "https://api.clarifai.com"
BACKENDS: Final = ("local", "clarifai")
AREAS: Final = ("uploads", "concepts", "models", "workflows", "explorer", "review")
IMAGE_PROTOCOLS: Final = ("auto", "tgp", "sixel", "halfblock")
"""`ui.image_protocol`: how previews are drawn (tgp is the Kitty terminal graphics protocol)."""


class ConfigError(Exception):
    """A configuration problem, rendered as one line: `file:line: key: what is wrong`."""

    def __init__(self, path: Path, message: str, *, line: int | None = None, key: str = "") -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        location = f"{path}:{line}" if line is not None else str(path)
        prefix = f"{location}: {key}: " if key else f"{location}: "
        super().__init__(prefix + message)


@dataclass(frozen=True)
class Profile:
    """One backend to talk to. `pat` is only set when the user saved it on purpose."""

    name: str
    backend: str = "local"
    base_url: str = ""
    user_id: str = "me"
    app_id: str = ""
    data_dir: str = ""
    pat: str = ""

    @property
    def is_local(self) -> bool:
        return self.backend == "local"

    def resolved_data_dir(self) -> Path:
        """Where the embedded backend keeps its data for this profile."""
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        import platformdirs

        return Path(platformdirs.user_data_dir(APP_NAME)) / self.name

    def resolved_base_url(self) -> str:
        """A remote profile's base URL: its own, else `CLARIFAI_API_BASE`, else Clarifai's."""
        return self.base_url or os.environ.get(ENV_API_BASE, "") or DEFAULT_BASE_URL

    def resolved_pat(self) -> str:
        """The key for a remote profile: env `CLARIFAI_PAT` wins over a saved one."""
        return os.environ.get(ENV_PAT, "") or self.pat

    def __repr__(self) -> str:  # never show a PAT
        return (
            f"Profile(name={self.name!r}, backend={self.backend!r}, base_url={self.base_url!r}, "
            f"user_id={self.user_id!r}, app_id={self.app_id!r}, data_dir={self.data_dir!r}, "
            f"pat={'<set>' if self.pat else '<unset>'})"
        )


@dataclass(frozen=True)
class UiConfig:
    theme: str = "textual-dark"
    per_page: int = 50
    image_preview: bool = True
    image_protocol: str = "auto"
    start_area: str = "uploads"


@dataclass(frozen=True)
class UploadConfig:
    batch_size: int = 128
    concurrency: int = 4
    recursive: bool = True
    extensions: tuple[str, ...] = ("jpg", "jpeg", "png", "webp", "gif", "bmp")


@dataclass(frozen=True)
class Config:
    path: Path
    active_profile: str = "local"
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    ui: UiConfig = UiConfig()
    keymap: Mapping[str, str] = field(default_factory=dict)
    upload: UploadConfig = UploadConfig()

    def profile(self, name: str | None = None) -> Profile:
        """The named profile (default: the active one); unknown names raise ConfigError."""
        wanted = name or self.active_profile
        try:
            return self.profiles[wanted]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(
                self.path, f"no profile named {wanted!r} (profiles: {known})", key="active_profile"
            ) from None

    def with_profile(self, profile: Profile) -> Config:
        profiles = dict(self.profiles)
        profiles[profile.name] = profile
        return replace(self, profiles=profiles)


# --------------------------------------------------------------------------------------------
# The default file: written on first run, and kept byte-identical to config.example.toml.

DEFAULT_CONFIG_TEXT: Final = """\
# clarifai-tui configuration. Every key is optional; the values shown are the defaults.
# Location: the platform config dir, or --config PATH, or env CLARIFAI_TUI_CONFIG.

# Which [profiles.<name>] table to use; `clarifai-tui --profile NAME` overrides it.
active_profile = "local"

[ui]
# Textual theme name (ctrl+p -> "Theme" lists them).
theme = "textual-dark"
# Rows per page in the explorer and other paged lists (1-1000).
per_page = 50
# Show image previews (turn off on very slow links).
image_preview = true
# How previews are drawn: "auto" uses real images where the terminal answers that it can
# (Sixel, or "tgp", the Kitty graphics protocol), else half-block characters; "tgp" or
# "sixel" forces one (e.g. inside tmux with passthrough); "halfblock" never asks the terminal.
image_protocol = "auto"
# Area opened at start: uploads, concepts, models, workflows, explorer or review.
start_area = "uploads"

[upload]
# Inputs per PostInputs call (1-128; Clarifai accepts at most 128).
batch_size = 128
# Batches in flight at once (1-32).
concurrency = 4
# Descend into sub-folders when a folder is added.
recursive = true
# File name extensions taken as images when walking folders.
extensions = ["jpg", "jpeg", "png", "webp", "gif", "bmp"]

[keymap]
# Remap any binding by its id (press ? in the app to see every id and key), e.g.:
# "area.explorer" = "e"
# "app.quit" = "ctrl+q"

# The embedded, offline, Clarifai-compatible backend: no account, no network.
[profiles.local]
backend = "local"
# Where its database and images live; empty means the platform data dir.
data_dir = ""
# The app opened at start; the app picker remembers the last one here.
app_id = ""
# The user id in API paths; "me" means the key's owner.
user_id = "me"

# The real Clarifai API. The PAT is read from env CLARIFAI_PAT; add `pat = "..."` here
# only if you want it saved (the file is then written with mode 0600).
[profiles.clarifai]
backend = "clarifai"
# Empty means env CLARIFAI_API_BASE, else https://api.clarifai.com.
base_url = "https://api.clarifai.com"
user_id = "your-user-id"
app_id = "your-app-id"
"""

_PROFILE_KEYS: Final[dict[str, type]] = {
    "backend": str,
    "base_url": str,
    "user_id": str,
    "app_id": str,
    "data_dir": str,
    "pat": str,
}
_UI_KEYS: Final[dict[str, type]] = {
    "theme": str,
    "per_page": int,
    "image_preview": bool,
    "image_protocol": str,
    "start_area": str,
}
_UPLOAD_KEYS: Final[dict[str, type]] = {
    "batch_size": int,
    "concurrency": int,
    "recursive": bool,
    "extensions": list,
}
_TOP_KEYS: Final[dict[str, type]] = {
    "active_profile": str,
    "ui": dict,
    "upload": dict,
    "keymap": dict,
    "profiles": dict,
}
_TYPE_NAMES: Final = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


class _Locator:
    """Finds the line a dotted key sits on, so messages can say `file:line`."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line_of(self, where: tuple[str, ...]) -> int | None:
        parts = list(where)
        table, key = parts[:-1], parts[-1]
        current: list[str] = []
        header_line: int | None = None
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
            if header:
                current = [p.strip().strip('"').strip("'") for p in header.group(1).split(".")]
                if current == parts:
                    header_line = number
                continue
            if current == table and re.match(
                rf"^(\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*=", line
            ):
                return number
        return header_line


def _check_type(
    path: Path, loc: _Locator, where: tuple[str, ...], value: Any, expected: type
) -> None:
    dotted = ".".join(where)
    ok = isinstance(value, expected)
    if expected is int and isinstance(value, bool):
        ok = False
    if not ok:
        raise ConfigError(
            path,
            f"must be {_TYPE_NAMES[expected]}, not {type(value).__name__} {value!r}",
            line=loc.line_of(where),
            key=dotted,
        )


def _check_table(
    path: Path,
    loc: _Locator,
    prefix: tuple[str, ...],
    table: Mapping[str, Any],
    schema: Mapping[str, type],
) -> None:
    for key, value in table.items():
        where = (*prefix, key)
        if key not in schema:
            known = ", ".join(schema)
            raise _bad(path, loc, where, f"unknown key (known here: {known})")
        _check_type(path, loc, where, value, schema[key])


def _bad(path: Path, loc: _Locator, where: tuple[str, ...], message: str) -> ConfigError:
    return ConfigError(path, message, line=loc.line_of(where), key=".".join(where))


def parse_config(text: str, path: Path) -> Config:
    """Parse and validate config text; raises ConfigError with file, line and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        message = str(getattr(exc, "msg", "") or exc)
        if line is None:
            found = re.search(r"at line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigError(path, f"invalid TOML: {message}", line=line) from None
    loc = _Locator(text)
    _check_table(path, loc, (), data, _TOP_KEYS)

    ui_table = data.get("ui", {})
    _check_table(path, loc, ("ui",), ui_table, _UI_KEYS)
    ui = replace(UiConfig(), **ui_table)
    if not 1 <= ui.per_page <= 1000:
        raise _bad(path, loc, ("ui", "per_page"), f"must be between 1 and 1000, not {ui.per_page}")
    if ui.start_area not in AREAS:
        raise _bad(path, loc, ("ui", "start_area"), f"must be one of {', '.join(AREAS)}")
    if ui.image_protocol not in IMAGE_PROTOCOLS:
        raise _bad(
            path,
            loc,
            ("ui", "image_protocol"),
            f"must be one of {', '.join(IMAGE_PROTOCOLS)}, not {ui.image_protocol!r}",
        )

    upload_table = dict(data.get("upload", {}))
    _check_table(path, loc, ("upload",), upload_table, _UPLOAD_KEYS)
    if "extensions" in upload_table:
        exts = upload_table["extensions"]
        if not all(isinstance(e, str) and e for e in exts):
            raise _bad(path, loc, ("upload", "extensions"), "must be a list of non-empty strings")
        upload_table["extensions"] = tuple(e.lower().lstrip(".") for e in exts)
    upload = replace(UploadConfig(), **upload_table)
    if not 1 <= upload.batch_size <= 128:
        raise _bad(path, loc, ("upload", "batch_size"), f"must be 1-128, not {upload.batch_size}")
    if not 1 <= upload.concurrency <= 32:
        raise _bad(path, loc, ("upload", "concurrency"), f"must be 1-32, not {upload.concurrency}")

    keymap: dict[str, str] = {}
    for binding_id, keys in data.get("keymap", {}).items():
        where = ("keymap", binding_id)
        if binding_id not in known_binding_ids():
            raise _bad(path, loc, where, "unknown binding id (press ? in the app to list them)")
        _check_type(path, loc, where, keys, str)
        if not keys.strip():
            raise _bad(path, loc, where, "must name at least one key")
        keymap[binding_id] = keys

    profiles: dict[str, Profile] = {}
    for name, table in data.get("profiles", {}).items():
        prefix = ("profiles", name)
        _check_type(path, loc, prefix, table, dict)
        _check_table(path, loc, prefix, table, _PROFILE_KEYS)
        profile = Profile(name=name, **table)
        if profile.backend not in BACKENDS:
            raise _bad(path, loc, (*prefix, "backend"), f"must be one of {', '.join(BACKENDS)}")
        if profile.base_url and not profile.base_url.startswith(("http://", "https://")):
            raise _bad(path, loc, (*prefix, "base_url"), "must start with http:// or https://")
        profiles[name] = profile
    if "local" not in profiles:
        profiles["local"] = Profile(name="local")

    active = data.get("active_profile", "local")
    if active not in profiles:
        raise _bad(
            path,
            loc,
            ("active_profile",),
            f"no profile named {active!r} (profiles: {', '.join(sorted(profiles))})",
        )
    return Config(
        path=path, active_profile=active, profiles=profiles, ui=ui, keymap=keymap, upload=upload
    )
