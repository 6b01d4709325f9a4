"""Alternative encoder paths for the bundled all-MiniLM-L6-v2, all built offline from its files.

* torch fp32 (what ingest uses, through sentence-transformers);
* torch dynamic int8 (``torch.ao.quantization.quantize_dynamic`` on the Linear layers);
* ONNX Runtime fp32 / graph-optimised / dynamic int8. sentence-transformers' own
  ``backend="onnx"`` needs optimum-onnx (see :func:`probe_st_onnx`), so the model is exported here
  with ``torch.onnx.export`` (needs the ``onnx`` package from the ``bench`` extra) and run with
  onnxruntime directly: same tokenizer, same mean pooling, same L2 normalisation.
"""
from __future__ import annotations

import copy
import os
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


class _Wrapper:  # built lazily so importing this module does not import torch
    @staticmethod
    def make(model):
        import torch

        class W(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        return W(model)


def export_onnx(st, out: Path) -> Path:
    """Export the transformer of ``st`` to ONNX (dynamic batch and sequence axes)."""
    import torch

    model = hf_model(st).eval()
    enc = st.tokenizer(["an example sentence", "a second, longer example sentence"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = tuple(enc[n] if n in enc else torch.zeros_like(enc["input_ids"]) for n in names)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(_Wrapper.make(model), args, str(out), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]},
                          opset_version=17, dynamo=False)
    return out


def optimize_onnx(src: Path, dst: Path, st) -> Path:
    """ONNX Runtime's transformer graph fusions (attention, LayerNorm, GELU), fp32."""
    from onnxruntime.transformers.optimizer import optimize_model

    cfg = hf_model(st).config
    opt = optimize_model(str(src), model_type="bert", num_heads=cfg.num_attention_heads, hidden_size=cfg.hidden_size,
                         opt_level=1)
    opt.save_model_to_file(str(dst))
    return dst


def quantize_onnx(src: Path, dst: Path, per_channel: bool) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return dst


class OnnxEncoder:
    """ONNX Runtime session + the model's tokenizer, mean pooling and normalisation."""

    def __init__(self, path: Path, st, threads: int | None = None) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.tokenizer = st.tokenizer
        self.max_len = int(st.max_seq_length or 256)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")  # like sentence-transformers
        out = np.zeros((len(texts), 0), dtype=np.float32)
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for s in range(0, len(texts), batch_size):
            idx = order[s : s + batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_len,
                                 return_tensors="np")
            feed = {n: (enc[n] if n in enc else np.zeros_like(enc["input_ids"])).astype(np.int64) for n in self.inputs}
            hidden = self.session.run(None, feed)[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            vec = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            vec /= np.clip(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12, None)
            parts.append((idx, vec.astype(np.float32)))
        if parts:
            out = np.zeros((len(texts), parts[0][1].shape[1]), dtype=np.float32)
            for idx, vec in parts:
                out[idx] = vec
        return out


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
