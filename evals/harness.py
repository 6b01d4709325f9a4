"""Run-wide state shared by evals/conftest.py and the eval modules (imported by plain name, so
both see one module object, which is not true of conftest itself under importlib import mode)."""
from __future__ import annotations

import contextlib
import sys

RESULTS: dict[str, object] = {}
CONFIG: list = []  # the pytest config, set by conftest's pytest_configure


def log(msg: str) -> None:
    """Progress on the terminal while a run goes on.

    pytest captures output at the file-descriptor level inside tests, so the line is written
    through the terminal reporter with capturing suspended, and flushed at once (CI logs are files).
    """
    config = CONFIG[0] if CONFIG else None
    tr = config.pluginmanager.get_plugin("terminalreporter") if config else None
    capman = config.pluginmanager.get_plugin("capturemanager") if config else None
    if tr is None:
        print(msg, file=sys.__stderr__, flush=True)
        return
    suspended = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
    with suspended:
        tr.write_line(msg)
        tr._tw.flush()
