"""A broken store directory through the CLI: missing, a file, read-only, corrupt.

Each fault must end in a non-zero exit through click with one clear line saying what is wrong
and what to do, never a traceback, and must leave the store's files as they were.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rel_helpers import LAVROV_SEED, SEED_NAMES, SEEDS, clean_failure, rag_exe, subprocess_env

QUESTION = "Who did Lavrov meet in Brest?"


def one_line_error(output: str) -> str:
    """The single ``Error: ...`` line of a click failure (and nothing else on the output)."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"expected one error line, got:\n{output}"
    return lines[0]


def digest(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` (to show a failed command changed nothing)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def no_model():
    """A store fault must be reported before any model is loaded: ``RAG_LLM=refuse`` (the env
    this returns) names a registered model that fails the test if it is ever built."""
    from rag.llm import register_llm

    def refuse(arg: str, settings):
        raise AssertionError("the model was loaded although the store cannot be used")

    unregister = register_llm("refuse", refuse)
    yield {"RAG_LLM": "refuse"}
    unregister()


# --- missing store, or a file where the store should be

COMMANDS = {
    "sources": ["sources"],
    "ask": ["ask", QUESTION],
    "ask-json": ["ask", "--json", QUESTION],
    "brief": ["brief", "--all"],
    "remove": ["remove", LAVROV_SEED],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_missing_store_says_to_run_ingest(cli, tmp_path, no_model, command):
    missing = tmp_path / "nowhere" / "store"
    res = cli(*COMMANDS[command], "--store", missing, env=no_model)
    clean_failure(res)
    line = one_line_error(res.output)
    assert str(missing) in line and "run `rag ingest`" in line, line
    assert not missing.exists() and not missing.parent.exists(), "a read-only command created the store"


@pytest.mark.parametrize("command", ["sources", "ask", "ingest"])
def test_store_path_that_is_a_file(cli, tmp_path, no_model, command):
    path = tmp_path / "store"
    path.write_text("not a store\n")
    args = ["ingest", SEEDS / LAVROV_SEED] if command == "ingest" else COMMANDS[command]
    res = cli(*args, "--store", path, env=no_model)
    clean_failure(res)
    # click's own check of --store (file_okay=False): a usage error naming the path
    assert res.exit_code == 2
    [line] = [ln for ln in res.output.splitlines() if ln.startswith("Error: ")]
    assert str(path) in line and "is a file" in line, line
    assert path.read_text() == "not a store\n"


# --- corrupt store

def _garbage(n: int) -> bytes:
    return hashlib.sha256(b"garbage").digest() * (n // 32)


CORRUPTIONS = {
    # the whole SQLite file replaced by random-looking bytes
    "garbage": lambda db: db.write_bytes(_garbage(256 * 1024)),
    # a valid header but the rest of the file overwritten (a torn copy)
    "torn": lambda db: db.write_bytes(db.read_bytes()[:4096] + _garbage(db.stat().st_size - 4096)),
}


@pytest.fixture(params=list(CORRUPTIONS))
def corrupt_store(request, store_copy) -> Path:
    db = store_copy / "chroma.sqlite3"
    assert db.exists()
    CORRUPTIONS[request.param](db)
    return store_copy


@pytest.mark.parametrize("command", ["sources", "ask", "ingest", "remove"])
def test_corrupt_store_is_a_clear_error(cli, corrupt_store, no_model, command):
    before = digest(corrupt_store)
    args = ["ingest", SEEDS / LAVROV_SEED] if command == "ingest" else COMMANDS[command]
    res = cli(*args, "--store", corrupt_store, env=no_model)
    clean_failure(res)
    line = one_line_error(res.output)
    assert "looks corrupt" in line and str(corrupt_store) in line and "rag ingest" in line, line
    assert digest(corrupt_store) == before, "the failing command changed the corrupt store"


def test_corrupt_store_in_a_real_process(corrupt_store):
    """The same through the installed ``rag`` script: exit 1, one line on stderr, nothing on stdout."""
    res = subprocess.run([rag_exe(), "sources", "--store", str(corrupt_store)], env=subprocess_env(),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and res.stdout == ""
    line = one_line_error(res.stderr)
    print(line)
    assert "looks corrupt" in line


# --- read-only store

_DAC_CAPS = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: root's way past file permissions


def _drop_dac_caps() -> None:
    """preexec_fn: remove the capabilities that let root ignore permissions from the bounding set, so
    the program exec'd next runs as root (the files' owner) bound by their mode bits."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _DAC_CAPS:
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _run_rag(args: list[str]) -> subprocess.CompletedProcess:
    extra = {"preexec_fn": _drop_dac_caps} if os.geteuid() == 0 else {}
    return subprocess.run([rag_exe(), *args], env=subprocess_env(), capture_output=True, text=True, timeout=300,
                          **extra)


@pytest.fixture
def readonly_store(store_copy):
    """The seed store copy with its directories 0555 and its files 0444 (restored afterwards)."""
    paths = [store_copy, *store_copy.rglob("*")]
    for p in paths:
        p.chmod(0o555 if p.is_dir() else 0o444)
    # the permissions must bind whoever runs rag (as root: once the DAC capabilities are dropped)
    probe = subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1], 'w')", str(store_copy / "probe")],
                           capture_output=True, text=True, **({"preexec_fn": _drop_dac_caps} if os.geteuid() == 0 else {}))
    if probe.returncode == 0 or "PermissionError" not in probe.stderr:
        pytest.skip("cannot make a directory read-only for the rag process (root without a way to drop "
                    f"CAP_DAC_OVERRIDE?): {probe.stderr[-500:]}")
    yield store_copy
    for p in paths:
        p.chmod(stat.S_IRWXU | (p.stat().st_mode & 0o777))


def test_readonly_store(readonly_store, tmp_path):
    store = readonly_store
    before = digest(store)

    # writing is refused up front, naming the problem and the way out
    doc = tmp_path / "note.txt"
    doc.write_text("Minsk talks\n\nThe ministers met in Minsk on 3 March 2021 to discuss trade.\n", encoding="utf-8")
    res = _run_rag(["ingest", str(doc), "--store", str(store), "--quiet"])
    print(f"ingest: exit {res.returncode}: {res.stderr.strip()[-500:]}")
    assert res.returncode == 1, f"{res.stdout}\n{res.stderr[-3000:]}"
    assert "Traceback" not in res.stderr and res.stdout == ""
    line = one_line_error(res.stderr)
    assert "read-only" in line and str(store) in line and "--store" in line, line

    res = _run_rag(["remove", LAVROV_SEED, "--store", str(store)])
    print(f"remove: exit {res.returncode}: {res.stderr.strip()[-500:]}")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert "read-only" in one_line_error(res.stderr)

    # reading either works or is refused with the same clear message
    res = _run_rag(["sources", "--json", "--store", str(store)])
    print(f"sources: exit {res.returncode}: {res.stderr.strip()[-500:]}")
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    if res.returncode == 0:
        import json

        assert sorted(json.loads(line)["source"] for line in res.stdout.splitlines()) == SEED_NAMES
    else:
        assert res.returncode == 1 and "read-only" in one_line_error(res.stderr)

    assert digest(store) == before, "a command changed the read-only store"
