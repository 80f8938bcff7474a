"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright's
Python package with ``executable_path`` (nothing is downloaded; ``playwright install`` is
never needed). The page must load without console errors (also when the window is
squeezed to no width), the 3D viewer's canvas must change between two frames, and a
screenshot is kept as a test artifact: in ``$POSEKIT_TEST_ARTIFACTS`` when set, else in
``<repo>/test-artifacts/``."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posekit.project.layout import Trial
from posekit.report.trial_page import trial_report

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package "
                "(apt-get install -y chromium; .ci/run does)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright (dev extra) is not installed")

REPO = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("POSEKIT_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def chromium_page(problems: list[str]) -> Iterator[Any]:
    """A page of headless Chromium (1280 × 900) whose console errors and page errors go to
    ``problems``."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                    else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            yield page
        finally:
            browser.close()


def test_report_in_headless_chromium(example_trial: Trial, tmp_path: Path) -> None:
    page_path, _ = trial_report(example_trial)
    problems: list[str] = []
    with chromium_page(problems) as page:
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelector('#viewer canvas') !== null",
                               timeout=30_000)
        names = page.evaluate(
            "document.getElementById('viewer')._transitionData._frames.map(f => f.name)")
        assert len(names) == 61
        page.wait_for_timeout(500)
        # the scene's area (its canvas), without the slider that moves too
        box = page.evaluate("""() => {
            const r = document.querySelector('#viewer .gl-container canvas')
                .getBoundingClientRect();
            return {x: r.x + window.scrollX, y: r.y + window.scrollY,
                    width: r.width, height: r.height}; }""")
        assert box["width"] > 100 and box["height"] > 100, box
        before = page.screenshot(clip=box, full_page=True)
        page.evaluate("n => Plotly.animate('viewer', [n], {frame: {duration: 0, "
                      "redraw: true}, transition: {duration: 0}, mode: 'immediate'})",
                      names[len(names) // 2])
        page.wait_for_timeout(500)
        after = page.screenshot(clip=box, full_page=True)
        # a window squeezed to (almost) no width, as a browser may report for a moment
        # (it once happened under a full test run's load): plotly.js must not be handed
        # negative sizes, which it logs as console errors
        page.set_viewport_size({"width": 1, "height": 900})
        page.wait_for_timeout(500)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.wait_for_timeout(500)
        shot = tmp_path / "report-squat.png"
        page.screenshot(path=str(shot), full_page=True)
    assert not problems, problems
    assert before != after, "the 3D viewer's canvas did not change between two frames"
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, artifacts_dir() / shot.name)


def test_calibration_page_in_headless_chromium(calibrated_project: Path, tmp_path: Path
                                               ) -> None:
    """The calibration's page loads without console errors and draws both figures."""
    from posekit.project.layout import Project
    from posekit.report.html import calibration_pages

    made = calibration_pages(Project.open(calibrated_project))
    page_path, _ = made.made["calibration"]
    problems: list[str] = []
    with chromium_page(problems) as page:
        page.goto(page_path.as_uri(), wait_until="load")
        for div in ("calibration-errors", "top-view"):
            page.wait_for_function(f"document.querySelector('#{div} .main-svg') !== null",
                                   timeout=30_000)
        shot = tmp_path / "calibration-report.png"
        page.screenshot(path=str(shot), full_page=True)
    assert not problems, problems
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, artifacts_dir() / shot.name)


def test_pages_sharing_one_plotly_js_in_headless_chromium(example_trial: Trial,
                                                          tmp_path: Path) -> None:
    """With `--plotly-js shared`, the trial's page (a folder down) and the calibration's
    page load reports/plotly.min.js from disk and draw their figures, without errors;
    without the file, the page says so."""
    from click.testing import CliRunner

    from posekit.cli.main import cli

    root = tmp_path / "copy"
    shutil.copytree(example_trial.session.project.root, root,
                    ignore=shutil.ignore_patterns("reports"))
    res = CliRunner().invoke(cli, ["report", "-p", str(root), "--plotly-js", "shared"])
    assert res.exit_code == 0, res.output
    problems: list[str] = []
    with chromium_page(problems) as page:
        page.goto((root / "reports" / "session1" / "squat.html").as_uri(), wait_until="load")
        page.wait_for_function("document.querySelector('#viewer canvas') !== null",
                               timeout=30_000)
        page.goto((root / "reports" / "calibration-report.html").as_uri(), wait_until="load")
        page.wait_for_function("document.querySelector('#top-view .main-svg') !== null",
                               timeout=30_000)
        assert "did not load" not in page.inner_text("body")
    assert not problems, problems
    # a page copied without its reports folder says what is missing
    (root / "reports" / "plotly.min.js").unlink()
    with chromium_page([]) as page:
        page.goto((root / "reports" / "session1" / "squat.html").as_uri(), wait_until="load")
        text = page.inner_text("body")
    assert ("The figures of this page need ../plotly.min.js (plotly.js), which did not "
            "load: keep the reports folder together") in text


def test_the_index_tables_sort_on_a_click(example_trial: Trial, tmp_path: Path) -> None:
    """A click on a column's header sorts the trials by it (numbers by value, names in
    natural order, empty cells last both ways, a failed page's row always last)."""
    from posekit.project.layout import Project
    from posekit.report.html import write_index

    root = tmp_path / "copy"
    shutil.copytree(example_trial.session.project.root, root,
                    ignore=shutil.ignore_patterns("reports", "session1"))
    project = Project.open(root)

    def head(error: float | None, valid: float, warnings: int) -> dict[str, Any]:
        return {"frames": 100, "cameras": 3, "median_error_px": error, "valid_share": valid,
                "truth_error": None, "units": "mm", "warnings": warnings}

    heads = {"s1/t2": (root / "reports" / "s1" / "t2.html", head(2.5, 0.975, 3)),
             "s1/t10": (root / "reports" / "s1" / "t10.html", head(None, 0.5, 0)),
             "s1/t1": (root / "reports" / "s1" / "t1.html", head(0.7, 1.0, 12))}
    index = write_index(project, heads, {"s1/bad": "its 3D is missing"})
    problems: list[str] = []
    with chromium_page(problems) as page:
        page.goto(index.as_uri(), wait_until="load")

        def click(column: str) -> list[str]:
            page.click(f"#trials + p + table.sortable th:text-is('{column}')")
            return page.eval_on_selector_all("#trials + p + table tr:not(:first-child)",
                                             "rows => rows.map(r => r.cells[0].textContent)")

        error = "median reprojection error (px)"
        assert click(error) == ["s1/t1", "s1/t2", "s1/t10", "s1/bad"]
        assert click(error) == ["s1/t2", "s1/t1", "s1/t10", "s1/bad"]
        assert click("trial") == ["s1/t1", "s1/t2", "s1/t10", "s1/bad"]
        assert click("warnings") == ["s1/t10", "s1/t2", "s1/t1", "s1/bad"]
        assert click("valid 3D points") == ["s1/t10", "s1/t2", "s1/t1", "s1/bad"]
        assert click("valid 3D points") == ["s1/t1", "s1/t2", "s1/t10", "s1/bad"]
    assert not problems, problems
