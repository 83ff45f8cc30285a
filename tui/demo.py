"""`clarifai-tui demo`: create the demo app (handwritten digits) and say what to do next.

The work is `api.demo_setup.setup_demo`, shared with the app picker's offer (`d`). The
"new images" folder goes into the profile's data dir (local profiles) or its state dir.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from tui.cli_errors import EXIT_CANNOT_RUN, print_error
from tui.config import Config, ConfigError, Profile, save_config
from tui.widgets.text import safe


def new_images_dir(profile: Profile) -> Path:
    """Where the demo writes the digits it did not upload, for the "add new images" step."""
    from api.demo_setup import NEW_IMAGES_DIRNAME

    if profile.is_local:
        return profile.resolved_data_dir() / NEW_IMAGES_DIRNAME
    from tui.connect import state_dir

    return state_dir(profile) / NEW_IMAGES_DIRNAME


async def run_demo_command(config: Config, profile: Profile, app_id: str | None) -> int:
    from api.demo import DEMO_APP_ID
    from api.demo_setup import setup_demo
    from api.errors import ApiError
    from tui.connect import ConnectError, connect, print_retry

    target = app_id or DEMO_APP_ID
    try:
        connection = await connect(
            profile, owner="demo", on_retry=print_retry, require_reachable=True
        )
    except ConnectError as exc:
        print(safe(f"clarifai-tui demo: {exc}", one_line=True), file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        result = await setup_demo(
            connection.client,
            app_id=target,
            new_images_dir=new_images_dir(profile),
            # One stream (stdout), and each line says what this run did.
            progress=lambda text: print(safe(f"demo: {text}", one_line=True), flush=True),
        )
    except (ApiError, OSError) as exc:
        print_error("demo", exc)
        return EXIT_CANNOT_RUN
    finally:
        await connection.aclose()
    print(safe(result.summary()))
    if not profile.app_id:
        try:
            save_config(config.with_profile(replace(profile, app_id=target)))
            print(f"{target} is now the app of profile {profile.name!r}: run clarifai-tui")
        except (OSError, ConfigError) as exc:
            print(f"could not remember the app ({exc}): run clarifai-tui --app {target}")
    else:
        print(f"open it: clarifai-tui --app {target}")
    return 1 if result.failed else 0
