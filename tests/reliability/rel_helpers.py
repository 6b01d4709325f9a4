"""Helpers for the reliability tests: free ports, servers as subprocesses, subprocess environments."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from rag.config import OFFLINE_ENV

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SEEDS = ROOT / "seeds"
SEED_NAMES = sorted(p.name for p in SEEDS.iterdir() if not p.name.startswith("."))
LAVROV_SEED = "000_e3a7af6ccd77722d.txt"  # the seed about Lavrov meeting Maxim Ryzhenkov in Brest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ServerProcess:
    """A server started as a subprocess; its output goes to a log file shown when it fails."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.cmd = cmd
        self.log = log
        self._log_fh = open(log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log_fh, stderr=subprocess.STDOUT, env=env,
                                     cwd=cwd, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait_http(self, url: str, timeout: float) -> float:
        """Wait until ``url`` answers 2xx; returns the seconds it took. Fails if the process dies or times out."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.cmd[0]} exited with {self.proc.returncode} before {url} answered:\n{self.log_tail()}")
            if http_ok(url):
                return time.monotonic() - t0
            time.sleep(0.25)
        pytest.fail(f"{url} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> int | None:
        """Terminate the process by its pid, then kill it if it does not exit within ``grace`` seconds."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(grace)
        self._log_fh.close()
        return self.proc.returncode


def clean_failure(result) -> None:
    """A CLI failure the user can act on: non-zero exit through click (no uncaught exception), no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}:\n{result.output}"
    assert "Traceback" not in result.output


def rag_exe() -> str:
    return str(VENV_BIN / "rag")


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a ``rag`` subprocess: offline, no store/LLM settings inherited from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(OFFLINE_ENV, PYTHONUNBUFFERED="1")  # the same variables the entry points set
    env.update(extra)
    return env


def chroma_counts(store: Path) -> Counter:
    """Chunks per source read straight from a local store's SQLite file, read-only.

    For stores another process writes: a Chroma client opened in this process caches the store's
    state, so a store is inspected this way until every process writing it has exited.
    """
    db = Path(store) / "chroma.sqlite3"
    if not db.exists():
        return Counter()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute("SELECT string_value, COUNT(*) FROM embedding_metadata WHERE key = 'source' "
                           "GROUP BY string_value").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # a store being created right now
            return Counter()
        raise
    finally:
        con.close()
    return Counter(dict(rows))


def wait4(proc: subprocess.Popen, timeout: float) -> int:
    """Wait for ``proc`` and return its own peak resident memory in bytes.

    Read as VmHWM from /proc while it runs (Popen returns after the exec, so this is the new
    program's address space). Not ``ru_maxrss`` from wait4: Linux carries the parent's RSS at fork
    into it, so in a full test run it reported the pytest process's 2.9 GB for a 0.8 GB child.
    """
    deadline = time.monotonic() + timeout
    peak = 0
    while True:
        try:
            with open(f"/proc/{proc.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
        except (OSError, ValueError):
            pass  # exited (a zombie has no address space left)
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return peak
        if time.monotonic() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            pytest.fail(f"{proc.args} did not finish within {timeout:.0f} s")
        time.sleep(0.05)
