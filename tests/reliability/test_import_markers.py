"""A file imported over an output that a killed step left marked incomplete counts as done:
the import is a complete file put there by the user."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from posekit.cli.main import cli
from posekit.io.atomic import incomplete_marker, marked_incomplete

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


def test_calibrate_import_clears_a_killed_calibrations_marker(tmp_path: Path) -> None:
    output = tmp_path / "calibration" / "calibration.toml"
    output.parent.mkdir()
    incomplete_marker(output).touch()  # what a calibrate killed mid-way leaves
    source = tmp_path / "lab.toml"
    shutil.copy(EXAMPLE / "ground-truth" / "calibration.toml", source)
    result = CliRunner().invoke(cli, ["calibrate", "import", str(source), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert output.is_file()
    assert not marked_incomplete(output)
