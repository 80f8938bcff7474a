"""The HTML report and index on the example project (content checks, no browser)."""

from __future__ import annotations

import re

from click.testing import CliRunner

from posekit.cli.main import cli
from posekit.project.layout import Project, Trial
from posekit.report.html import report_path, reports_dir


def test_report_cli_writes_offline_pages(example_trial: Trial) -> None:
    root = example_trial.session.project.root
    res = CliRunner().invoke(cli, ["report", "-p", str(root)])
    assert res.exit_code == 0, res.output
    page = report_path(example_trial)
    assert page == root / "reports" / "session1" / "squat.html"
    text = page.read_text()
    # plotly.js inlined once, no script fetched from the network
    assert text.count("<script>/**") == 1 and "plotly.js v" in text
    assert not re.search(r"<script[^>]+src=\"https?:", text)
    for section in ("Calibration", "Synchronisation", "Triangulation quality",
                    "Joint angles", "3D viewer"):
        assert f"<h2>{section}</h2>" in text
    assert text.count("data:image/png;base64,") >= 3  # coverage, sync, angles
    assert '"name":"ground truth"' in text.replace(": ", ":")
    assert "left_knee (truth)" in text
    assert page.with_suffix(".cameras.png").stat().st_size > 1000
    index = (reports_dir(Project.open(root)) / "index.html").read_text()
    assert 'href="session1/squat.html"' in index


def test_report_truth_distance_is_small(example_trial: Trial) -> None:
    from posekit.report.data import load_results

    res = load_results(example_trial)
    assert res.truth is not None
    error = res.truth_error()
    assert error is not None and error < 0.02  # metres: 2D truth + 0.5 px noise


def test_report_lists_a_trial_without_3d_as_failed(example_trial: Trial, tmp_path) -> None:
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(example_trial.session.project.root, root,
                    ignore=shutil.ignore_patterns("pose-3d", "reports", "videos-*"))
    shutil.copytree(example_trial.session.path / "videos-raw", root / "session1" / "videos-raw")
    res = CliRunner().invoke(cli, ["report", "-p", str(root)])
    assert res.exit_code == 1
    assert "pose-3d" in res.output
    assert "failed:" in (root / "reports" / "index.html").read_text()
