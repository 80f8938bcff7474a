"""Fixtures of the angles tests (data: study_data.py)."""

from __future__ import annotations

import pytest
from study_data import Study, build_study


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """Two sessions × two trials of synthetic 3D with their true angles (shared)."""
    return build_study(tmp_path_factory.mktemp("study") / "p")
