"""Configuration: packaged defaults (TOML) -> ``--config`` file -> ``ROTSCAN_…`` env -> flags.

Parsed once into a frozen :class:`Config`. Library code receives a ``Config``; it never reads
``os.environ`` itself (the CLI passes the environment in).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from rotscan.errors import ConfigError

ENV_PREFIX = "ROTSCAN_"


def _defaults() -> dict[str, Any]:
    text = resources.files("rotscan").joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if key not in out:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(out))})")
        if isinstance(out[key], dict) and out[key]:  # a section; an empty default table is free-form
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: {key!r} must be a table")
            out[key] = _merge(out[key], value, f"{where} [{key}]")
        else:
            expected = type(out[key])
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(
                    f"{where}: {key!r} must be {expected.__name__}, got {type(value).__name__} {value!r}"
                )
            out[key] = copy.deepcopy(value)
    return out


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    """``ROTSCAN_TRIVIAL__TINY_MAX_ROWS=50`` -> ``{"trivial": {"tiny_max_rows": 50}}``.

    Values are parsed as TOML literals when they parse (numbers, booleans, arrays), else strings.
    """
    layer: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        layer.setdefault(section, {})[key] = value
    return layer


@dataclass(frozen=True)
class Config:
    """The parsed configuration; ``section(name)`` gives a read-only view of one TOML table."""

    data: Mapping[str, Any]
    source: str = "defaults"

    def section(self, name: str) -> Mapping[str, Any]:
        return self.data[name]

    def get(self, section: str, key: str) -> Any:
        return self.data[section][key]

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Config:
        return Config(_merge(dict(self.data), overrides, "flags"), self.source)

    @property
    def protect(self) -> tuple[str, ...]:
        return tuple(self.data["cleanup"]["protect"])


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    data = _defaults()
    source = "defaults"
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config {p}: {exc.strerror or exc}") from exc
        try:
            layer = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {p} is not valid TOML: {exc}") from exc
        data = _merge(data, layer, str(p))
        source = str(p)
    if env:
        data = _merge(data, _env_layer(env), "environment")
    if overrides:
        data = _merge(data, overrides, "flags")
    return Config(data, source)
