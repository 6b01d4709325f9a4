"""Run-wide state shared by evals/conftest.py and the eval modules (imported by plain name, so
both see one module object, which is not true of conftest itself under importlib import mode)."""
from __future__ import annotations

import sys

RESULTS: dict[str, object] = {}
TERMINAL: list = []


def log(msg: str) -> None:
    """Progress on the terminal while a run goes on (pytest captures stdout/stderr at fd level)."""
    tr = TERMINAL[0] if TERMINAL else None
    if tr is not None:
        tr.write_line(msg)
        tr.flush() if hasattr(tr, "flush") else None
    else:
        print(msg, file=sys.__stderr__, flush=True)
