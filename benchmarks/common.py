"""Shared helpers: machine description, timing, percentiles, memory, child-process workers."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from rag.config import OFFLINE_ENV, offline_environment

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
SEEDS = ROOT / "seeds"
RESULT_PREFIX = "BENCH-RESULT "


def offline() -> None:
    """The benchmarks' entry points call this first: the product's offline environment (rag.config)."""
    offline_environment()


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- machine -------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    import importlib.metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """What the figures were measured on (stored with every section)."""
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    return {
        "nproc": nproc,
        "cpu": _cpu_model(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": _version("torch"),
        "llama_cpp_python": _version("llama_cpp_python"),
        "sentence_transformers": _version("sentence-transformers"),
        "transformers": _version("transformers"),
        "onnxruntime": _version("onnxruntime"),
        "chromadb": _version("chromadb"),
        "bm25s": _version("bm25s"),
    }


def machine_line(m: dict[str, Any]) -> str:
    return (f"{m.get('nproc')} CPU ({m.get('cpu')}), {m.get('ram_gib')} GiB RAM, Python {m.get('python')}, "
            f"torch {m.get('torch')}, llama-cpp-python {m.get('llama_cpp_python')}")


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --- statistics ----------------------------------------------------------------------------

def percentile(values: Iterable[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100)."""
    xs = sorted(values)
    if not xs:
        return None
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def summary_ms(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": rnd(percentile(values, 50), 2), "p95": rnd(percentile(values, 95), 2),
            "mean": rnd(sum(values) / len(values), 2) if values else None,
            "max": rnd(max(values), 2) if values else None}


def rnd(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


def median(values: list[float]) -> float | None:
    return percentile(values, 50)


# --- memory --------------------------------------------------------------------------------

def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def rss_now() -> dict[str, float]:
    """Current RSS split into anonymous (heap) and file-backed (mmapped model files) parts, MiB."""
    out: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return out


def dir_size_mib(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return round(total / 1024 / 1024, 2)


# --- child processes -----------------------------------------------------------------------

def emit(result: dict[str, Any]) -> None:
    """Worker side: print the result as the last line for :func:`run_worker`."""
    result.setdefault("peak_rss_mib", peak_rss_mib())
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def run_worker(task: str, args: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run ``benchmarks.worker TASK`` in a fresh interpreter and return its JSON result.

    Each section runs in its own process so that its peak RSS and caches (the embedder and the
    GGUF are loaded once per process) are its own.
    """
    env = dict(os.environ)
    env.update(OFFLINE_ENV)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "benchmarks.worker", task, json.dumps(args, default=str)]
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = loadavg()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
        elif line.strip():
            print(line, file=sys.stderr)
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"worker {task} failed with exit code {proc.returncode} (see stderr above)")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["worker_wall_s"] = round(wall, 1)
    result["worker_cpu_s"] = round(cpu, 1)
    # CPU the benchmark process got per wall second (at most nproc); low values mean the machine was shared
    result["worker_cpu_per_wall"] = round(cpu / wall, 2) if wall else None
    result["loadavg_before"] = load_before
    result["loadavg_after"] = loadavg()
    return result
