"""The `clarifai-tui` command line.

    clarifai-tui [--config PATH] [--profile NAME] [--app APP_ID] [AREA]   open the TUI
    clarifai-tui --version
    clarifai-tui serve [...]      the embedded backend as a server (see `serve --help`)
    clarifai-tui upload PATH...   resumable upload of images and videos from a shell or a script
    clarifai-tui demo             create the demo app (handwritten digits) on the local profile

Only the standard library is imported at module level, so `--version` stays instant;
everything heavy is imported by the command that needs it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tui import __version__

TYPE_CHECKING = False  # not `from typing import ...`: keeps `--version` free of imports
if TYPE_CHECKING:
    import argparse

    from tui.config import Config, Profile

AREAS = ("uploads", "concepts", "models", "workflows", "explorer", "review")
SUBCOMMANDS = ("serve", "upload", "demo")


APP_HELP = {
    "": "app to open (remembered in the config as the profile's app)",
    "upload": "app to upload into (default: the profile's app_id; not remembered)",
    "demo": "app to create the demo in (default digits-demo; it becomes the profile's app "
    "when the profile has none)",
}


def _add_common(parser: argparse.ArgumentParser, command: str = "") -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: env CLARIFAI_TUI_CONFIG, else the platform config dir)",
    )
    parser.add_argument(
        "--profile", metavar="NAME", help="profile to use (overrides active_profile)"
    )
    parser.add_argument("--app", metavar="APP_ID", help=APP_HELP[command])


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="clarifai-tui",
        description="Clarifai auto-annotation from the terminal. "
        f"Other commands: {', '.join(SUBCOMMANDS)} (try `clarifai-tui serve --help`).",
    )
    parser.add_argument("--version", action="version", version=f"clarifai-tui {__version__}")
    _add_common(parser)
    parser.add_argument(
        "area",
        nargs="?",
        choices=AREAS,
        metavar="AREA",
        help=f"area to open directly: {', '.join(AREAS)}",
    )
    return parser


def build_subcommand_parser(command: str) -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(prog=f"clarifai-tui {command}")
    if command == "upload":
        _add_common(parser, command)
        from tui.upload_cmd import add_upload_arguments

        add_upload_arguments(parser)
    elif command == "demo":
        _add_common(parser, command)
        parser.description = "Create the demo app from scikit-learn's handwritten digits."
    return parser


def _first_positional(argv: Sequence[str]) -> str | None:
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        if arg in ("--config", "--profile", "--app"):
            skip_next = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list == ["--version"]:  # the fast path: no argparse, nothing else imported
        print(f"clarifai-tui {__version__}")
        return 0
    command = _first_positional(args_list)
    if command == "serve":
        index = args_list.index("serve")
        if index != 0:
            build_parser().error(
                "`serve` takes its own options after it: clarifai-tui serve --help"
            )
        from api.local.serve import main as serve_main

        return int(serve_main(args_list[1:]))
    if command in ("upload", "demo"):
        args_list.remove(command)
        sub = build_subcommand_parser(command).parse_args(args_list)
        return _run_subcommand(command, sub)
    args = build_parser().parse_args(args_list)
    return _run_tui(args)


def _load(args: argparse.Namespace) -> tuple[Config, Profile]:
    """Load config and pick the profile; exits 2 with a one-line message on any problem."""
    from pathlib import Path

    from tui.config import ConfigError, load_config

    try:
        config = load_config(Path(args.config).expanduser() if args.config else None)
        profile = config.profile(args.profile)
    except ConfigError as exc:
        print(f"clarifai-tui: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return config, profile


def _run_tui(args: argparse.Namespace) -> int:
    config, profile = _load(args)
    from tui.app import ClarifaiTUI
    from tui.widgets.graphics import detect_at_start

    app = ClarifaiTUI(config, profile, app_id=args.app, start_area=args.area)
    # Asked now or never: once the app runs, Textual reads every terminal reply as keys.
    detect_at_start(config.ui.image_protocol if config.ui.image_preview else "halfblock")
    result = app.run()
    return int(result or 0)


def _run_subcommand(command: str, args: argparse.Namespace) -> int:
    """Run `upload` or `demo`; whatever stops it is one line on stderr and an exit code."""
    config, profile = _load(args)
    from api.errors import ApiError
    from tui.cli_errors import EXIT_CANNOT_RUN, EXIT_INTERRUPTED, print_error

    try:
        return _run_subcommand_in_loop(command, args, config, profile)
    except KeyboardInterrupt:
        print(
            f"clarifai-tui {command}: interrupted; run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except (ApiError, OSError) as exc:
        print_error(command, exc)
        return EXIT_CANNOT_RUN


def _run_subcommand_in_loop(
    command: str, args: argparse.Namespace, config: Config, profile: Profile
) -> int:
    import asyncio

    from tui.connect import run_with_client

    if command == "upload":
        from tui.upload_cmd import run_upload_command

        args.extensions = config.upload.extensions  # [upload] extensions of the config
        return asyncio.run(
            run_with_client(
                config,
                profile,
                args.app,
                lambda client, state_dir: run_upload_command(client, args, state_dir),
                owner="upload",
            )
        )
    from tui.demo import run_demo_command

    return int(asyncio.run(run_demo_command(config, profile, args.app)))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
