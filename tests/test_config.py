from __future__ import annotations

from pathlib import Path

import pytest

from rotscan.config import load_config
from rotscan.errors import ConfigError


def test_defaults_load() -> None:
    c = load_config()
    assert c.get("spark", "master") == "local[*]"
    assert c.protect == ()


def test_layers_file_env_flags(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[trivial]\ntiny_max_rows = 5\nconstant_min_rows = 3\n[cleanup]\nprotect = ["gold/**"]\n')
    c = load_config(f, env={"ROTSCAN_TRIVIAL__TINY_MAX_ROWS": "7", "OTHER": "x"},
                    overrides={"trivial": {"constant_min_rows": 4}})
    assert c.get("trivial", "tiny_max_rows") == 7  # env over file
    assert c.get("trivial", "constant_min_rows") == 4  # flags over everything
    assert c.protect == ("gold/**",)


def test_unknown_key_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[trivial]\ntiny_rows = 5\n")
    with pytest.raises(ConfigError, match="unknown setting 'tiny_rows'"):
        load_config(f)


def test_wrong_type_and_bad_toml(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[trivial]\ntiny_max_rows = "many"\n')
    with pytest.raises(ConfigError, match="must be int"):
        load_config(f)
    f.write_text("[trivial\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")


def test_example_config_parses() -> None:
    example = Path(__file__).resolve().parents[1] / "conf" / "rotscan.example.toml"
    c = load_config(example)
    assert c.get("report", "price_per_gb_month") > 0
