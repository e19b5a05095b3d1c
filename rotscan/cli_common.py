"""What every ``rotscan`` command module shares: progress messages, error translation, the
``--config`` option and loading the configuration. It imports no command module, so ``rotscan.cli``
and ``rotscan.cli_cleanup`` can both use it without an import cycle."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from rotscan.config import Config, load_config
from rotscan.errors import RotscanError

F = TypeVar("F", bound=Callable[..., Any])


def progress_printer(quiet: bool) -> Callable[[str], None]:
    """rotscan's own progress lines on stderr, with the elapsed time."""
    start = time.monotonic()

    def emit(message: str) -> None:
        if not quiet:
            click.echo(f"[rotscan {time.monotonic() - start:6.1f}s] {message}", err=True)

    return emit


def handle_errors(fn: F) -> F:
    """Library errors become a one-line message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RotscanError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def config_option(example: str = "conf/rotscan.example.toml") -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        return click.option(
            "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
            help=f"TOML file layered over the packaged defaults (see {example}).",
        )(fn)

    return decorate


def load(config_path: Path | None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Defaults, then the --config file, then ROTSCAN_* environment variables, then flags."""
    return load_config(config_path, env=os.environ, overrides=overrides)
