"""The HTML report and index on the example project (content checks, no browser)."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import toml
from click.testing import CliRunner

from posekit.cli.main import cli
from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d
from posekit.project.layout import Project, Trial
from posekit.project.steps import angles_path, pose_2d_path, pose_3d_quality_path, sync_path
from posekit.report.trial_page import report_path, reports_dir


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
        assert f"<h2 id=\"{section.lower().replace(' ', '-')}\">{section}</h2>" in text
    assert "None: no step warned about this trial." in text
    assert text.count("data:image/png;base64,") >= 2  # sync, angles
    # whether the 3D used the sync file's sub-frame offsets (here a hundredth of a frame)
    used = json.loads(pose_3d_quality_path(example_trial).read_text())["subframe"]
    assert set(used) == {"cam2", "cam3"}
    # the sync table gives each sub-frame offset with its standard error
    record = toml.load(sync_path(example_trial))
    for cam in ("cam2", "cam3"):
        sub, se = record["subframe"][cam], record["subframe_se"][cam]
        assert f"<td>{sub:+.2f} ± {se:.2f}</td>" in text
    assert ("the 3D interpolates the 2D of cam2, cam3 to the reference camera&#x27;s "
            "instants by their sub-frame offsets") in text
    # the fixture's calibration was written, not made from board recordings
    assert "was not made from board recordings by <code>posekit calibrate</code>" in text
    assert "World frame: as the imported calibration defines it.</p>" in text
    assert "not found.</p>" not in text
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
    index = (root / "reports" / "index.html").read_text()
    assert "failed:" in index
    assert ("<p>1 trial(s): 0 reported, 0 of them with warnings (their count links to them), "
            "1 without a report (the reason is in its row).</p>") in index


def _reported_with_cam3(example_trial: Trial, tmp_path: Path,
                        change: Callable[[Pose2D], Pose2D]) -> tuple[Path, Trial]:
    """A copy of the example project with cam3's 2D replaced by ``change(2D)``, after sync,
    triangulate and report."""
    root = tmp_path / "copy"
    shutil.copytree(example_trial.session.project.root, root,
                    ignore=shutil.ignore_patterns("reports"))
    trial = Project.open(root).trials()[0]
    path = pose_2d_path(trial, "cam3")
    write_pose2d(change(read_pose2d(path)), path)
    for args in (["sync", "--overwrite"], ["triangulate", "--overwrite"], ["report"]):
        res = CliRunner().invoke(cli, ["-q", *args, "-p", str(root)])
        assert res.exit_code == 0, res.output
    return root, trial


def test_report_lists_the_steps_warnings(example_trial: Trial, tmp_path: Path) -> None:
    """cam3 films a person standing still (its 2D: the first frame throughout): sync warns
    about cam3. The report lists that warning under Warnings, marks cam3's confidence as
    low in the sync table, and the index counts the warnings, linked to them."""
    def frozen(pose: Pose2D) -> Pose2D:
        n = pose.n_frames
        return Pose2D(pose.keypoints, np.repeat(pose.xy[:1], n, axis=0),
                      np.repeat(pose.likelihood[:1], n, axis=0), metadata=dict(pose.metadata))

    root, trial = _reported_with_cam3(example_trial, tmp_path, frozen)
    warnings = toml.load(str(sync_path(trial)))["warnings"]
    assert any(w.startswith("cam3: offset") and "low confidence" in w for w in warnings)
    text = report_path(trial).read_text()
    section = text.split('<h2 id="warnings">Warnings</h2>', 1)[1].split("<h2", 1)[0]
    for warning in warnings:
        assert f"<b>sync</b>: {html.escape(warning)}</li>" in section
    assert re.search(r"<td>cam3</td><td>-?\d+</td><td><span class=\"warn\">0\.\d\d \(low\)"
                     r"</span></td>", text), text.split("Synchronisation")[1][:600]
    quality = json.loads((root / "session1" / "pose-3d" / "squat.quality.json").read_text())
    total = len(warnings) + len(quality["warnings"])
    index = (reports_dir(Project.open(root)) / "index.html").read_text()
    assert f'<a class="warn" href="session1/squat.html#warnings">{total}</a>' in index
    assert "<p>1 trial(s): 1 reported, 1 of them with warnings" in index
    # the study-wide trials table says the same
    res = CliRunner().invoke(cli, ["-q", "summarize", "-p", str(root)])
    assert res.exit_code == 0, res.output
    (row,) = pd.read_csv(root / "summaries" / "trials.csv").to_dict("records")
    confidence = toml.load(str(sync_path(trial)))["confidence"]
    low = [c for c in ("cam2", "cam3") if confidence[c] < 0.3]
    assert "cam3" in low and row["sync_low_confidence"] == " ".join(low)
    assert row["sync_min_confidence"] == min(confidence["cam2"], confidence["cam3"])
    assert row["warnings"] == total and row["sync_method"] == "motion + geometry"
    assert row["median_error_px"] == quality["median_error_px"]


def test_report_shows_each_cameras_detection(example_trial: Trial, tmp_path: Path) -> None:
    """The 2D detection table gives each camera's frames with the person; cam3's 2D with
    nobody in it (what detect writes for an empty view) is in red and under Warnings,
    next to the sync and triangulation warnings about the same camera."""
    def nobody(pose: Pose2D) -> Pose2D:
        return Pose2D.empty(pose.keypoints, pose.n_frames, metadata=dict(pose.metadata))

    _, trial = _reported_with_cam3(example_trial, tmp_path, nobody)
    text = report_path(trial).read_text()
    n = read_pose2d(pose_2d_path(trial, "cam1")).n_frames
    table = text.split('<h2 id="2d-detection">2D detection</h2>', 1)[1].split("<h2", 1)[0]
    for cam in ("cam1", "cam2"):
        assert f"<td>{cam}</td><td>squat-{cam}.h5</td><td>{n} of {n} (100 %)</td>" in table
    assert (f'<td>cam3</td><td>squat-cam3.h5</td><td><span class="warn">0 of {n} (0 %)'
            "</span></td>") in table
    warnings = text.split('<h2 id="warnings">Warnings</h2>', 1)[1].split("<h2", 1)[0]
    assert (f"<b>detect</b>: cam3: no person found in any of the {n} frames of "
            "squat-cam3.h5; check that the person is in this camera&#x27;s view</li>"
            ) in warnings
    assert "<b>sync</b>: cam3: no person detected in any frame of squat-cam3.h5" in warnings
    assert "<b>triangulate</b>: camera cam3: no person detected" in warnings


def test_reports_made_in_worker_processes_are_the_same_pages(example_trial: Trial,
                                                            tmp_path: Path) -> None:
    """`posekit report --jobs 2` writes, byte for byte, the pages of `--jobs 1`, and still
    lists a trial without 3D as failed while the others are written."""
    root = tmp_path / "copy"
    shutil.copytree(example_trial.session.project.root, root,
                    ignore=shutil.ignore_patterns("reports"))
    session = root / "session1"
    for path in sorted(session.rglob("squat*")):  # a second trial with the same outputs
        shutil.copy2(path, path.with_name(path.name.replace("squat", "again", 1)))
    for path in sorted((session / "videos-raw").glob("squat-*")):  # a third without 3D
        shutil.copy2(path, path.with_name(path.name.replace("squat", "bare", 1)))
    pages = {}
    for jobs in ("1", "2"):
        shutil.rmtree(root / "reports", ignore_errors=True)
        res = CliRunner().invoke(cli, ["report", "-p", str(root), "--jobs", jobs])
        assert res.exit_code == 1 and "session1/bare" in res.output, res.output
        pages[jobs] = {p.relative_to(root): p.read_bytes()
                       for p in sorted((root / "reports").rglob("*")) if p.is_file()}
    assert pages["1"] == pages["2"]
    names = {p.name for p in pages["2"]}
    assert {"again.html", "squat.html", "index.html"} <= names and "bare.html" not in names


def test_the_world_frame_is_said() -> None:
    """The calibration section says what the 3D's coordinates mean: camera 1's frame (and
    how to get z up), the board's, or an imported calibration's; and a re-alignment."""
    from posekit.report.trial_page import _world_note
    from posekit.triangulation.export import Points3D

    plain = Points3D(np.zeros((1, 1, 3)), np.zeros((1, 1)), np.zeros((1, 1), np.int64),
                     np.zeros((1, 1)), ["nose"], np.zeros(1, np.int64))
    text = _world_note("camera 1", "camA", plain)
    assert "camera 1 (camA) at the origin" in text and "world_frame = &quot;board&quot;" in text
    board = "board in frame 3 (z up from its face, origin at its corner)"
    assert "x runs along its columns" in _world_note(board, "camA", plain)
    assert "as the imported calibration defines it" in _world_note("", "camA", plain)
    assert "re-aligned" not in text
    turned = Points3D(**{**plain.__dict__, "M": np.diag([1.0, -1.0, -1.0])})
    assert "re-aligned from it by [triangulation] axes" in _world_note("camera 1", "camA", turned)


def test_the_calibration_section_shows_how_much_of_each_image_the_board_reached() -> None:
    """Per camera: the board's coverage of the image (calibration report) and the share of
    this trial's keypoints outside it (quality file); nothing for an older report."""
    from posekit.report.trial_page import _coverage_table

    report = {"cameras": {"cam1": {"image_coverage": 0.35, "reprojection_median_px": 0.13}}}
    quality = {"cameras": {"cam1": {"outside_calibration_share": 0.25}, "cam2": {}}}
    text = _coverage_table(report, quality)
    assert "<th>image reached by the board</th><th>keypoints where it was not</th>" in text
    assert "<tr><td>cam1</td><td>35.0 %</td><td>25.0 %</td><td>0.13</td></tr>" in text
    assert "<tr><td>cam2</td><td>–</td><td>–</td><td>–</td></tr>" in text
    assert _coverage_table({"cameras": {"cam1": {"reprojection_median_px": 0.1}}},
                           quality) == ""


def test_a_calibration_gets_a_page_and_a_row_on_the_index_before_any_trial(
        calibrated_project: Path, tmp_path: Path) -> None:
    """A project with a calibration and no trial yet: `posekit report` writes the
    calibration's page (warnings, every camera's figures, the board check, the coverage
    image, the cameras from above) and an index that lists it and says there is no trial."""
    root = tmp_path / "study"
    shutil.copytree(calibrated_project, root)
    res = CliRunner().invoke(cli, ["report", "-p", str(root)])
    assert res.exit_code == 0, res.output
    page_path = root / "reports" / "calibration-report.html"
    assert f"calibration: {page_path}" in res.output
    text = page_path.read_text()
    report = json.loads((root / "calibration" / "calibration_report.json").read_text())
    assert text.count("<script>/**") == 1  # plotly.js inlined once
    assert "None: posekit calibrate did not warn about this calibration." in text
    assert "World frame: camera 1 (cam1) at the origin" in text
    for cam, q in report["cameras"].items():
        row = re.search(rf"<tr><td>{cam}</td><td>(\d+)×(\d+)</td>(.*?)</tr>", text)
        assert row is not None, cam
        assert [int(row[1]), int(row[2])] == q["size"]
        cells = re.findall(r"<td>([^<]*)</td>", row[3])
        assert cells[-3:] == [f"{100 * q['image_coverage']:.0f} %",
                              f"{q['reprojection_median_px']:.3g}",
                              f"{q['reprojection_p95_px']:.3g}"]
    assert f"({report['board_distance']['pairs']} pairs)" in text
    assert '<img alt="calibration coverage" src="data:image/png;base64,' in text
    for div in ("calibration-errors", "top-view"):
        assert f'id="{div}"' in text
    index = (root / "reports" / "index.html").read_text()
    worst = max(q["reprojection_median_px"] for q in report["cameras"].values())
    least = min(q["image_coverage"] for q in report["cameras"].values())
    assert ('<tr><td><a href="calibration-report.html">calibration</a></td><td>3</td>'
            f"<td>posekit calibrate</td><td>{worst:.3g}</td><td>{100 * least:.0f} %</td>") in index
    assert "No trial selected" in index and "posekit run-all" in index


def test_a_calibration_page_says_when_its_report_is_missing_or_stale(
        calibrated_project: Path, tmp_path: Path) -> None:
    """A calibration.toml newer than its report: the report describes another
    calibration and is not shown; an imported one (no report): the lens table only."""
    import os

    root = tmp_path / "study"
    shutil.copytree(calibrated_project, root)
    calibration = root / "calibration" / "calibration.toml"
    later = calibration.stat().st_mtime + 60
    os.utime(calibration, (later, later))
    res = CliRunner().invoke(cli, ["report", "-p", str(root)])
    assert res.exit_code == 0, res.output
    text = (root / "reports" / "calibration-report.html").read_text()
    assert "is older than it and describes an earlier calibration" in text
    assert "reprojection median" not in text and 'id="top-view"' in text
    source = tmp_path / "elsewhere.toml"
    shutil.copy(calibration, source)
    for args in (["calibrate", "import", str(source), "--overwrite"], ["report"]):
        res = CliRunner().invoke(cli, [*args, "-p", str(root)])
        assert res.exit_code == 0, res.output
    text = (root / "reports" / "calibration-report.html").read_text()
    assert "Imported (or its report was removed)" in text
    assert re.search(r"<tr><td>cam1</td><td>1920×1080</td><td>\d+\.\d</td>", text)
    index = (root / "reports" / "index.html").read_text()
    assert ('<td>imported</td><td>–</td><td>–</td><td>–</td><td>–</td></tr>') in index


def test_a_trial_page_links_its_calibration_s_page(example_trial: Trial) -> None:
    """Also when only some sessions are reported: the project's calibration, which their
    trials use, gets its page."""
    root = example_trial.session.project.root
    calibration_page = reports_dir(Project.open(root)) / "calibration-report.html"
    calibration_page.unlink(missing_ok=True)
    res = CliRunner().invoke(cli, ["report", "-p", str(root), "-s", "session1"])
    assert res.exit_code == 0, res.output
    text = report_path(example_trial).read_text()
    assert ('All of this calibration\'s figures, for every camera: <a href="../'
            'calibration-report.html">calibration</a>.') in text
    assert calibration_page.is_file()


def test_a_calibration_report_edited_into_nonsense_fails_only_its_page(
        calibrated_project: Path, tmp_path: Path) -> None:
    """A page that cannot be made is listed as failed, with the reason, and the command
    exits 1 after writing the rest, not with a traceback."""
    root = tmp_path / "study"
    shutil.copytree(calibrated_project, root)
    report = root / "calibration" / "calibration_report.json"
    report.write_text(json.dumps({**json.loads(report.read_text()), "cameras": [1, 2]}))
    res = CliRunner().invoke(cli, ["report", "-p", str(root)])
    assert res.exit_code == 1
    assert "FAILED calibration: unexpected AttributeError" in res.output
    assert "1 calibration(s) without a page" in res.output
    index = (root / "reports" / "index.html").read_text()
    assert "<tr><td>calibration</td><td colspan=\"6\">failed: unexpected" in index


def test_shared_plotly_js_pages_are_the_inline_pages_loading_one_file(
        example_trial: Trial, tmp_path: Path) -> None:
    """`--plotly-js shared` (or `[report] plotly_js = "shared"`) writes plotly.js once to
    the reports folder; every page is then its inline page with plotly.js replaced by a
    `<script src>` to that file, relative to the page; `--plotly-js inline` overrides the
    config."""
    from plotly.offline import get_plotlyjs

    from posekit.report.page import missing_plotly_note

    root = tmp_path / "copy"
    shutil.copytree(example_trial.session.project.root, root,
                    ignore=shutil.ignore_patterns("reports"))
    reports = root / "reports"

    def run(*args: str) -> dict[Path, str]:
        shutil.rmtree(reports, ignore_errors=True)
        res = CliRunner().invoke(cli, ["report", "-p", str(root), *args])
        assert res.exit_code == 0, res.output
        return {p.relative_to(reports): p.read_text(encoding="utf-8")
                for p in sorted(reports.rglob("*.html"))}

    inline = run()
    shared = run("--plotly-js", "shared")
    assert (reports / "plotly.min.js").read_text(encoding="utf-8") == get_plotlyjs()
    pages = {Path("calibration-report.html"), Path("session1/squat.html")}
    assert pages <= set(inline) and set(inline) == set(shared)
    script = "<script>" + get_plotlyjs() + "</script>"
    for rel in pages:
        assert inline[rel].count(script) == 1, rel
        src = "../" * (len(rel.parts) - 1) + "plotly.min.js"
        note = missing_plotly_note(src)
        assert f"The figures of this page need {src}" in note and shared[rel].count(note) == 1
        assert shared[rel].replace(note, "") == inline[rel].replace(
            script, f'<script charset="utf-8" src="{src}"></script>').replace(
            '"plotly": "inline"', f'"plotly": "{src}"'), rel  # a trial page's record
        assert len(shared[rel]) < len(inline[rel]) - 4_000_000
    assert shared[Path("index.html")] == inline[Path("index.html")]

    (root / "config.toml").write_text((root / "config.toml").read_text()
                                      + '\n[report]\nplotly_js = "shared"\n')
    assert run() == shared
    assert run("--plotly-js", "inline") == inline
    assert not (reports / "plotly.min.js").exists()


def test_report_keeps_up_to_date_pages_and_makes_the_others_again(
        example_trial: Trial, tmp_path: Path) -> None:
    """A re-run keeps a trial's page (and its row on the index) while the page is newer
    than every file it shows and was made the same way; an input touched, removed or
    added, another plotly.js setting, a page from other code, or --overwrite make it
    again."""
    import os
    import time

    root = tmp_path / "copy"
    shutil.copytree(example_trial.session.project.root, root,
                    ignore=shutil.ignore_patterns("reports"))
    trial = Project.open(root).trials()[0]
    page = report_path(trial)

    def run(*args: str) -> bool:
        """Whether the run made the trial's page (it must also have kept or made it)."""
        before = page.stat().st_mtime_ns if page.exists() else None
        res = CliRunner().invoke(cli, ["report", "-p", str(root), *args])
        assert res.exit_code == 0, res.output
        made = f"session1/squat: {page}" in res.output
        kept = "1 trial page(s) up to date, kept (--overwrite makes them again)" in res.output
        assert made != kept, res.output
        assert (page.stat().st_mtime_ns != before) == made
        return made

    def later(path: Path) -> None:
        """``path`` changed after the page was made."""
        now = time.time()
        os.utime(page, (now - 100, now - 100))
        os.utime(path, (now - 50, now - 50))

    assert run()
    index = (root / "reports" / "index.html").read_bytes()
    assert not run()
    assert (root / "reports" / "index.html").read_bytes() == index  # the same row
    later(angles_path(trial))
    assert run() and not run()
    later(root / "calibration" / "calibration.toml")
    assert run() and not run()
    later(root / "config.toml")
    assert run() and not run()
    plot = angles_path(trial).with_suffix(".png")
    saved = plot.read_bytes()
    plot.unlink()
    assert run() and not run()
    plot.write_bytes(saved)  # back, older than the page: still another page
    os.utime(plot, (page.stat().st_mtime - 50,) * 2)
    assert run() and not run()
    assert run("--plotly-js", "shared") and not run("--plotly-js", "shared")
    assert run() and not run()
    assert run("--overwrite") and not run()
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace('"posekit": "', '"posekit": "0.0.1+', 1), encoding="utf-8")
    assert run() and not run()
    page.write_text(text.replace('id="posekit-page"', 'id="other"', 1), encoding="utf-8")
    assert run()


def test_status_shows_whether_each_trial_s_page_is_up_to_date(
        example_trial: Trial, tmp_path: Path) -> None:
    """`posekit status` has a report column: the page missing (-), up to date (done), or
    older than what it shows (outdated), by the same rule as `posekit report`."""
    import os

    root = tmp_path / "copy"
    shutil.copytree(example_trial.session.project.root, root,
                    ignore=shutil.ignore_patterns("reports"))
    trial = Project.open(root).trials()[0]

    def page_state() -> str:
        res = CliRunner().invoke(cli, ["status", "-p", str(root)])
        assert res.exit_code == 0, res.output
        header, row = (line.split() for line in res.output.splitlines()
                       if line.startswith(("session ", "session1 ")))
        assert header[-1] == "report"
        return row[-1]

    assert page_state() == "-"
    assert CliRunner().invoke(cli, ["-q", "report", "-p", str(root)]).exit_code == 0
    assert page_state() == "done"
    t = report_path(trial).stat().st_mtime + 10
    os.utime(angles_path(trial), (t, t))
    assert page_state() == "outdated"
