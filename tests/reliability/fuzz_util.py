"""Shared by the reliability tests of R4: the fuzzer of ``benchmarks/fuzz_inputs.py``,
loaded as a module (``benchmarks`` is a folder of scripts, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def load_fuzzer() -> ModuleType:
    """The ``benchmarks/fuzz_inputs.py`` module (loaded once)."""
    name = "posekit_benchmarks_fuzz_inputs"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "fuzz_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
