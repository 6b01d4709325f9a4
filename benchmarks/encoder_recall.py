"""Eval retrieval recall@k with each of the product's encoders (rag.embed): torch fp32 vs onnx int8.

The encoder section of `make bench` measures speed and cosine agreement; this asks the question that
decides whether a faster encoder may be the default: does retrieval over the seeds still find the
evidence documents of the eval questions (evals/questions.yaml)? Each run ingests seeds/ into a fresh
temporary store built with the encoder under test and retrieves with the product's Retriever.

    .venv/bin/python benchmarks/encoder_recall.py

Measured (top_k 4, 54 questions with evidence documents): 2026-11-23 torch fp32 0.949, onnx int8 per-channel
(batch 32, benchmark encoder) 0.949; 2026-11-29 through rag.embed: torch-fp32 0.949, onnx-int8 (one text per run) 0.949.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from benchmarks.common import offline  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embed import ENCODERS  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402
from rag.store import Store  # noqa: E402


def eval_recall(encoder: str) -> tuple[float, int, int]:
    """Mean share of each question's evidence documents among its retrieved passages."""
    questions = [q for q in yaml.safe_load((ROOT / "evals" / "questions.yaml").read_text())["questions"] if q.get("sources")]
    settings = Settings.from_env(store_dir=Path(tempfile.mkdtemp(prefix="rag-recall-")), chroma_url="", encoder=encoder)
    store = Store(settings)
    Ingestor(store, settings).run([ROOT / "seeds"], progress=False)
    retriever = Retriever(store, settings)
    total = 0.0
    for q in questions:
        expected = set(q["sources"])
        got = {p.meta["source"] for p in retriever.run(q["question"]).passages}
        total += len(expected & got) / len(expected)
    return total / len(questions), len(questions), settings.top_k


def main() -> None:
    offline()
    for encoder in ENCODERS:
        recall, n, k = eval_recall(encoder)
        print(f"{encoder}: recall@{k} {recall:.3f} over {n} questions", flush=True)


if __name__ == "__main__":
    main()
