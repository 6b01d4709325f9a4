"""Eval retrieval recall@k with the torch fp32 encoder vs onnxruntime dynamic int8 (per-channel).

The encoder section of `make bench` measures speed and cosine agreement; this asks the question that
decides whether a faster encoder may become the default: does retrieval over the seeds still find the
evidence documents of the eval questions (evals/questions.yaml)? Both runs ingest seeds/ into a fresh
temporary store with the encoder under test and retrieve with the product's Retriever.

    .venv/bin/python benchmarks/encoder_recall.py

Measured 2026-11-23 (top_k 4, 54 questions with evidence documents): torch fp32 0.949, onnx int8 per-channel 0.949.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

import ingest.pipeline as pipeline  # noqa: E402
import rag.store as store_module  # noqa: E402
from benchmarks.common import offline  # noqa: E402
from benchmarks.encoders import OnnxEncoder, export_onnx, load_st, quantize_onnx  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402


def eval_recall() -> tuple[float, int, int]:
    """Mean share of each question's evidence documents among its retrieved passages."""
    questions = [q for q in yaml.safe_load((ROOT / "evals" / "questions.yaml").read_text())["questions"] if q.get("sources")]
    settings = Settings.from_env(store_dir=Path(tempfile.mkdtemp(prefix="rag-recall-")), chroma_url="")
    store = store_module.Store(settings)
    pipeline.Ingestor(store, settings).run([ROOT / "seeds"], progress=False)
    retriever = Retriever(store, settings)
    total = 0.0
    for q in questions:
        expected = set(q["sources"])
        got = {p.meta["source"] for p in retriever.run(q["question"]).passages}
        total += len(expected & got) / len(expected)
    return total / len(questions), len(questions), settings.top_k


class _OnnxEmbeddings:
    """The two methods the product calls on its embedder, backed by an onnxruntime session."""

    def __init__(self, encoder: OnnxEncoder) -> None:
        self.encoder = encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encoder.encode([text])[0].tolist()


def main() -> None:
    offline()
    recall, n, k = eval_recall()
    print(f"torch fp32: recall@{k} {recall:.3f} over {n} questions", flush=True)
    st = load_st()
    work = Path(tempfile.mkdtemp(prefix="rag-onnx-"))
    model = quantize_onnx(export_onnx(st, work / "model.onnx"), work / "model_int8.onnx", per_channel=True)
    onnx_embeddings = _OnnxEmbeddings(OnnxEncoder(model, st))
    # the product looks its embedder up through these two names
    store_module.embedder = pipeline.embedder = lambda *a, **kw: onnx_embeddings
    recall, n, k = eval_recall()
    print(f"onnxruntime int8 per-channel: recall@{k} {recall:.3f} over {n} questions")


if __name__ == "__main__":
    main()
