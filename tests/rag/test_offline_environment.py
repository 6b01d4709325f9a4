"""The offline environment (no hub downloads, no telemetry) is set by the entry points, never by an import.

Each check runs in a fresh interpreter whose environment lacks the variables (this session set
them at its start, tests/conftest.py). A spy on the import system records what the environment was
when each library that reads it at import time (or on first use) was first imported: the entry
point must have set it by then.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rag.config import OFFLINE_ENV

ROOT = Path(__file__).resolve().parents[2]
READERS = ("gradio", "chromadb", "huggingface_hub", "transformers", "sentence_transformers")

SPY = f"""
import importlib.abc, json, os, sys
NAMES, READERS, SEEN = {sorted(OFFLINE_ENV)!r}, {READERS!r}, {{}}

class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in READERS and name not in SEEN:
            SEEN[name] = {{k: os.environ.get(k) for k in NAMES}}
        return None

sys.meta_path.insert(0, Spy())
def env():
    return {{k: os.environ.get(k) for k in NAMES}}
def report(**kw):
    print("RESULT " + json.dumps({{"seen": SEEN, "env": env(), **kw}}))
"""


def _run(code: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV and not k.startswith("RAG_")}
    proc = subprocess.run([sys.executable, "-c", SPY + code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_importing_the_modules_changes_nothing_in_the_environment():
    out = _run("import rag.config, rag.cli, rag.app, rag.store, rag.serve, ingest.pipeline\n"
               "report(modules=sorted(m for m in READERS if m in sys.modules))")
    assert out["env"] == {k: None for k in OFFLINE_ENV}
    # none of the libraries that read the variables is imported by an import of ours: the entry
    # points (below) can still set them first
    assert out["modules"] == [] and out["seen"] == {}


def test_the_cli_sets_the_environment_before_chromadb_is_imported(tmp_path):
    out = _run("from rag.cli import main\n"
               "assert not any(os.environ.get(k) for k in NAMES)\n"
               f"try:\n    main(['sources', '--store', {str(tmp_path / 'none')!r}], standalone_mode=False)\n"
               "except Exception as exc:\n    error = type(exc).__name__\n"
               "report(error=error)")
    assert out["error"] == "ClickException"  # no store there, but the command ran
    assert out["env"] == OFFLINE_ENV
    assert out["seen"].get("chromadb") == OFFLINE_ENV


def test_the_app_sets_the_environment_before_gradio_is_imported(tmp_path):
    out = _run("from rag.config import Settings\nimport rag.app\n"
               "assert 'gradio' not in sys.modules and not any(os.environ.get(k) for k in NAMES)\n"
               f"s = Settings.from_env(store_dir={str(tmp_path / 'store')!r}, chroma_url='')\n"
               "app = rag.app.build_app(s, answerer_factory=lambda: None)\n"
               "report()")
    assert out["seen"]["gradio"] == OFFLINE_ENV and out["seen"]["huggingface_hub"] == OFFLINE_ENV
    # gr.Blocks(analytics_enabled=False) itself then sets HF_HUB_DISABLE_TELEMETRY=True
    assert {**out["env"], "HF_HUB_DISABLE_TELEMETRY": "1"} == OFFLINE_ENV


def test_a_value_the_user_set_is_kept(monkeypatch):
    from rag.config import offline_environment

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    offline_environment()
    assert os.environ["HF_HUB_OFFLINE"] == "0"
