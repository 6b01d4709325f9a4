#!/usr/bin/env python
"""Benchmark suite: `make bench` (or `.venv/bin/python benchmarks/run.py`).

Prints figures, never passes or fails. Writes benchmarks/results.md, benchmarks/results.json
and PNG plots next to them. Sections (each in its own child process, so its peak RSS and its
model caches are its own):

  ingest      chunks/s through Ingestor vs the raw encoder; faster encoder paths (ONNX, int8)
  retrieval   p50/p95 latency of dense, BM25 and fused retrieval at several corpus sizes
  generation  pipeline (Answerer) vs raw llama-cpp-python on identical messages; TTFT; citation check
  latency     answer latency over the seed eval questions: time to first token and to the verified
              answer, prompt tokens and prompt rate, previous vs current prompt configuration, and
              raw llama.cpp reading the same prompts as the physical reference
  memory      peak RSS of a `rag chat`-like process and of ingesting the largest scale
  briefing    wall time of a briefing over every seed document (`rag brief --all`)

Quick subsets:  benchmarks/run.py --only ingest,retrieval --scales 1000,10000
A run of a subset keeps the other sections' previous figures in results.json/results.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import BENCH_DIR, log, machine_info, now_iso, offline, run_worker  # noqa: E402

SECTIONS = ["ingest", "retrieval", "generation", "latency", "memory", "briefing"]
# answer latency: the default prompt (whole passages) against two selected sentences per passage, same run
LATENCY_CONFIGS = {"whole passages (default)": {}, "2 sentences per passage": {"sentences_per_passage": 2}}
QUESTIONS = [  # answerable from the seeds (cf. evals/questions.yaml); the last asks for a longer answer
    "Where did Lavrov meet Maxim Ryzhenkov?",
    "What joint session did Lavrov attend during his November 25-26 visit to Minsk?",
    "Summarize what Lukashenko and Lavrov discussed when they met in November 2020.",
]
CHAT_QUESTION = "Where did Lavrov and Ryzhenkov meet in November 2024?"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections ({','.join(SECTIONS)})")
    p.add_argument("--scales", default="1000,10000,100000", help="retrieval corpus sizes in chunks")
    p.add_argument("--real-max", type=int, default=1000,
                   help="scales up to this go through the real Ingestor (embedding every chunk); larger scales "
                        "reuse the embeddings of that many chunks with perturbations")
    p.add_argument("--queries", type=int, default=40, help="retrieval queries per scale")
    p.add_argument("--ingest-chunks", type=int, default=300, help="chunks in the ingest benchmark corpus")
    p.add_argument("--encoder-texts", type=int, default=128, help="chunk texts for the encoder comparison")
    p.add_argument("--reps", type=int, default=2, help="repetitions of each throughput measurement (best is kept)")
    p.add_argument("--questions", type=int, default=len(QUESTIONS), help=f"generation questions (max {len(QUESTIONS)})")
    p.add_argument("--latency-questions", type=int, default=20, help="seed eval questions in the latency section")
    p.add_argument("--out", type=Path, default=BENCH_DIR, help="where results.md/json and plots go")
    p.add_argument("--fresh", action="store_true", help="do not keep previous figures of sections not run")
    p.add_argument("--keep-tmp", action="store_true", help="keep the temporary stores and corpora")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: scales 300,3000, 100 ingest chunks, 48 encoder texts, 1 rep, 1 question")
    args = p.parse_args(argv)
    if args.quick:
        args.scales, args.ingest_chunks, args.encoder_texts, args.reps, args.questions, args.queries = (
            "300,3000", 100, 48, 1, 1, 15)
        args.latency_questions = 3
        args.real_max = min(args.real_max, 300)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    args.scale_list = sorted({int(s) for s in args.scales.split(",") if s.strip()})
    return args


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.machine = machine_info()
        self._seed_store: Path | None = None
        self.retrieval_result: dict | None = None

    # --- shared fixtures
    def seed_store(self) -> Path:
        if self._seed_store is None:
            path = self.tmp / "seed_store"
            log("building the seed store (Ingestor over seeds/)")
            self.seed_info = run_worker("seed_store", {"store_dir": str(path)})
            self._seed_store = path
        return self._seed_store

    # --- sections
    def ingest(self) -> dict:
        a = self.args
        return run_worker("ingest", {"workdir": str(self.tmp / "ingest"), "chunks": a.ingest_chunks,
                                     "encoder_texts": a.encoder_texts, "reps": a.reps})

    def retrieval(self) -> dict:
        a = self.args
        work = self.tmp / "retrieval"
        pool_path = work / "pool.npz"
        real = [s for s in a.scale_list if s <= a.real_max]
        synthetic = [s for s in a.scale_list if s > a.real_max]
        rows: list[dict] = []
        pool_size = None
        pool_scale = max(real) if real else a.real_max
        for s in sorted(set(real) | ({pool_scale} if synthetic else set())):
            log(f"retrieval: {s} chunks through the real Ingestor")
            r = run_worker("scale", {"n": s, "workdir": str(work), "mode": "ingestor", "queries":
                                     a.queries if s in real else 0, "thread_probe": s == min(a.scale_list),
                                     "pool_out": str(pool_path) if s == pool_scale else None})
            if s == pool_scale:
                pool_size = r["chunks"]
            if s in real:
                rows.append(r)
            else:
                pool_build = r
        ingest_cps = None
        src = next((r for r in rows if r["n_target"] == pool_scale), None) or locals().get("pool_build")
        if src and src.get("ingest_s"):
            ingest_cps = src["chunks"] / src["ingest_s"]
        for s in synthetic:
            log(f"retrieval: {s} chunks from the {pool_size}-chunk pool (precomputed embeddings + perturbation)")
            r = run_worker("scale", {"n": s, "workdir": str(work), "mode": "replicate", "pool": str(pool_path),
                                     "pool_size": pool_size, "queries": a.queries})
            if ingest_cps:
                r["estimated_full_ingest_s"] = round(r["chunks"] / ingest_cps, 0)
            rows.append(r)
            shutil.rmtree(work / f"store_{s}", ignore_errors=True)  # 100k is ~0.6 GB on disk
        out = {"scales": rows, "pool_chunks": pool_size, "real_max": a.real_max,
               "ingest_chunks_per_s_real": round(ingest_cps, 2) if ingest_cps else None}
        if "pool_build" in locals():
            out["pool_build"] = pool_build
        self.retrieval_result = out
        return out

    def generation(self) -> dict:
        store = self.seed_store()
        qs = QUESTIONS[: max(1, self.args.questions)]
        r = run_worker("generation", {"store_dir": str(store), "questions": qs})
        r["seed_store"] = self.seed_info
        return r

    def latency(self) -> dict:
        import yaml

        store = self.seed_store()
        path = Path(__file__).resolve().parent.parent / "evals" / "questions.yaml"
        qs = [q["question"] for q in yaml.safe_load(path.read_text())["questions"] if q.get("kind") != "unanswerable"]
        r = run_worker("latency", {"store_dir": str(store), "questions": qs[: self.args.latency_questions],
                                   "configs": LATENCY_CONFIGS})
        r["question_source"] = "evals/questions.yaml (answerable, in file order)"
        return r

    def memory(self) -> dict:
        store = self.seed_store()
        log("memory: a process that loads the model and answers one question")
        chat = run_worker("chat_memory", {"store_dir": str(store), "question": CHAT_QUESTION})
        out = {"chat": chat}
        largest = None
        if self.retrieval_result:
            largest = max(self.retrieval_result["scales"], key=lambda r: r["chunks"])
            out["ingest_largest_source"] = "retrieval section (same run)"
        else:
            a = self.args
            n = max(a.scale_list)
            work = self.tmp / "memory"
            pool_path = work / "pool.npz"
            mode = "ingestor" if n <= a.real_max else "replicate"
            if mode == "replicate":
                log(f"memory: building the {a.real_max}-chunk pool first")
                pool = run_worker("scale", {"n": a.real_max, "workdir": str(work), "mode": "ingestor", "queries": 0,
                                            "pool_out": str(pool_path)})
                out["pool_build"] = pool
            log(f"memory: building the {n}-chunk store")
            largest = run_worker("scale", {"n": n, "workdir": str(work), "mode": mode, "pool": str(pool_path),
                                           "queries": 0})
            shutil.rmtree(work, ignore_errors=True)
            out["ingest_largest_source"] = "memory section (build only)"
        out["ingest_largest"] = {k: largest.get(k) for k in ("n_target", "chunks", "mode", "ingest_s", "peak_rss_build_mib",
                                                              "peak_rss_mib", "rss", "disk_mib")}
        # the real-Ingestor peak at the largest real scale (embedding every chunk), when measured
        if self.retrieval_result:
            real = [r for r in self.retrieval_result["scales"] if r["mode"] == "ingestor"]
            if real:
                r = max(real, key=lambda r: r["chunks"])
                out["ingest_real_largest"] = {k: r.get(k) for k in ("chunks", "ingest_s", "peak_rss_build_mib")}
        return out

    def briefing(self) -> dict:
        store = self.seed_store()
        log("briefing: Briefer(answerer).briefing(None) over the seed store (= rag brief --all)")
        return run_worker("briefing", {"store_dir": str(store)})


def load_previous(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    offline()
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "results.json"
    results = {} if args.fresh else load_previous(json_path)
    results.setdefault("sections", {})
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    bench = Bench(args, tmp)
    log(f"machine: {bench.machine}")
    log(f"sections: {', '.join(args.sections)}; temp dir {tmp}")
    t_all = time.perf_counter()
    try:
        for name in SECTIONS:
            if name not in args.sections:
                continue
            log(f"=== {name}")
            t0 = time.perf_counter()
            entry = {"date": now_iso(), "machine": bench.machine,
                     "args": {k: v for k, v in vars(args).items() if k not in ("out", "sections", "scale_list")}}
            try:
                entry["result"] = getattr(bench, name)()
            except Exception as exc:
                traceback.print_exc()
                entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["wall_s"] = round(time.perf_counter() - t0, 1)
            log(f"=== {name} done in {entry['wall_s']:.0f}s")
            results["sections"][name] = entry
            write(results, args.out)  # after every section, so an interrupted run keeps what it measured
    finally:
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    results["last_run"] = {"date": now_iso(), "sections": args.sections, "wall_s": round(time.perf_counter() - t_all, 1),
                           "machine": bench.machine}
    write(results, args.out)
    from benchmarks.report import headline

    print(headline(results))
    log(f"wrote {args.out / 'results.md'} and {json_path} in {time.perf_counter() - t_all:.0f}s")
    return 0


def write(results: dict, out: Path) -> None:
    from benchmarks.report import render

    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    render(results, out)


if __name__ == "__main__":
    sys.exit(main())
