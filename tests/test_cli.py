"""The CLI as a user meets it: fast import, documented commands, clean errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from rotscan.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_importing_the_cli_starts_no_jvm() -> None:
    code = "import sys, rotscan.cli; assert 'pyspark' not in sys.modules and 'py4j' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_command_is_documented_in_the_readme() -> None:
    for name in main.commands:
        assert f"rotscan {name}" in README, name
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_missing_root_and_bad_config_are_one_line_errors(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["scan", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1
    assert r.output.strip().count("\n") == 0 and "root does not exist" in r.output
    cfg = tmp_path / "c.toml"
    cfg.write_text("[trivial]\nno_such_key = 1\n")
    r = CliRunner().invoke(main, ["scan", str(tmp_path), "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert r.exit_code == 1 and "unknown setting 'no_such_key'" in r.output
    r = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert r.exit_code == 1 and "no findings.json" in r.output
