"""The TOML configuration: locate, create from defaults, validate strictly, save atomically.

The file lives under the platform config dir (platformdirs), unless `--config PATH` or the
environment variable `CLARIFAI_TUI_CONFIG` says otherwise. Loading (tomllib) never rewrites
the file: invalid TOML, a wrong type or an unknown key raises `ConfigError`, whose message is
one line naming the file, the line (where it can be found) and the key. Saving edits the
user's file in place with tomlkit (comments, key order and layout kept; only changed keys
rewritten), writes a temp file in the same folder, keeps the previous file as `<name>.bak`
and renames the new one into place; a file that holds a PAT is written with mode 0600.

Two modules (issue #23): `schema` says what the file may say and validates it; `file` finds,
loads and saves the file on disk.

This package imports only the standard library and platformdirs at load time (tomlkit only
inside `save_config`): it is loaded by the CLI before anything heavy.
"""

from __future__ import annotations

from tui.config.file import default_config_path, load_config, save_config
from tui.config.schema import (
    _PROFILE_KEYS,
    _UI_KEYS,
    _UPLOAD_KEYS,
    APP_NAME,
    AREAS,
    BACKENDS,
    DEFAULT_BASE_URL,
    DEFAULT_CONFIG_TEXT,
    ENV_API_BASE,
    ENV_CONFIG,
    ENV_PAT,
    IMAGE_PROTOCOLS,
    Config,
    ConfigError,
    Profile,
    UiConfig,
    UploadConfig,
    parse_config,
)

__all__ = [
    "APP_NAME",
    "AREAS",
    "BACKENDS",
    "DEFAULT_BASE_URL",
    "DEFAULT_CONFIG_TEXT",
    "ENV_API_BASE",
    "ENV_CONFIG",
    "ENV_PAT",
    "IMAGE_PROTOCOLS",
    "_PROFILE_KEYS",
    "_UI_KEYS",
    "_UPLOAD_KEYS",
    "Config",
    "ConfigError",
    "Profile",
    "UiConfig",
    "UploadConfig",
    "default_config_path",
    "load_config",
    "parse_config",
    "save_config",
]
