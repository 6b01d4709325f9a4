"""Alternative encoder paths for the bundled all-MiniLM-L6-v2, all built offline from its files.

* torch fp32 (what ingest uses, through sentence-transformers);
* torch dynamic int8 (``torch.ao.quantization.quantize_dynamic`` on the Linear layers);
* ONNX Runtime fp32 / graph-optimised / dynamic int8. sentence-transformers' own
  ``backend="onnx"`` needs optimum-onnx (see :func:`probe_st_onnx`), so the model is exported with
  the product's own ``rag.embed.export_onnx`` and every variant runs through the product's
  onnxruntime encoder (``rag.embed.OnnxInt8Embeddings``): same tokenizer, pooling, normalisation.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np


def load_st():
    from sentence_transformers import SentenceTransformer

    from rag.assets import embedding_model_path

    return SentenceTransformer(str(embedding_model_path()), device="cpu", local_files_only=True)


def hf_model(st):
    """The transformers BertModel inside a SentenceTransformer (attribute name varies by version)."""
    first = st[0]
    for attr in ("auto_model", "model"):
        m = getattr(first, attr, None)
        if m is not None and hasattr(m, "config"):
            return m
    raise RuntimeError("cannot find the transformers model inside the SentenceTransformer")


def probe_st_onnx() -> dict[str, Any]:
    """Can sentence-transformers load the bundled model with backend="onnx" offline?"""
    from rag.assets import embedding_model_path

    path = embedding_model_path()
    info: dict[str, Any] = {"model_dir": str(path), "has_onnx_dir": (path / "onnx").is_dir(),
                            "onnx_files": sorted(str(p.relative_to(path)) for p in path.rglob("*.onnx"))}
    try:
        import optimum  # noqa: F401

        info["optimum_installed"] = True
    except ImportError:
        info["optimum_installed"] = False
    try:
        from sentence_transformers import SentenceTransformer

        SentenceTransformer(str(path), device="cpu", backend="onnx", local_files_only=True)
        info["st_onnx_ok"] = True
    except Exception as exc:  # report, never fail the benchmark
        info["st_onnx_ok"] = False
        info["st_onnx_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return info


def torch_int8(st, per_channel: bool = False):
    """A copy of ``st`` whose Linear layers are dynamically quantised to int8 (per-tensor or per-channel weights)."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    q = copy.deepcopy(st)
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    torch.ao.quantization.quantize_dynamic(q, {torch.nn.Linear: qconfig}, dtype=torch.qint8, inplace=True)
    return q


def export_onnx(st, out: Path) -> Path:
    """The product's export (rag/embed.py) of the bundled model; ``st`` is unused, kept for the call sites."""
    from rag.assets import embedding_model_path
    from rag.embed import export_onnx as product_export

    out.parent.mkdir(parents=True, exist_ok=True)
    return product_export(embedding_model_path(), out)


def optimize_onnx(src: Path, dst: Path, st) -> Path:
    """ONNX Runtime's transformer graph fusions (attention, LayerNorm, GELU), fp32."""
    from onnxruntime.transformers.optimizer import optimize_model

    cfg = hf_model(st).config
    opt = optimize_model(str(src), model_type="bert", num_heads=cfg.num_attention_heads, hidden_size=cfg.hidden_size,
                         opt_level=1)
    opt.save_model_to_file(str(dst))
    return dst


def quantize_onnx(src: Path, dst: Path, per_channel: bool) -> Path:
    from rag.embed import quantise_int8

    return quantise_int8(src, dst, per_channel=per_channel)


def onnx_encode_fn(path: Path) -> Callable[[list[str], int], np.ndarray]:
    """Any export of the model run through the product's onnxruntime encoder, at the batch size asked."""
    from rag.embed import OnnxInt8Embeddings

    enc = OnnxInt8Embeddings(path)
    return lambda texts, bs: enc.encode(texts, bs)


def st_encode_fn(st) -> Callable[[list[str], int], np.ndarray]:
    return lambda texts, bs: np.asarray(st.encode(texts, batch_size=bs, normalize_embeddings=True,
                                                  convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)
