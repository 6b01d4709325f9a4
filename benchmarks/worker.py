"""Benchmark tasks, each run in its own interpreter by run.py: ``python -m benchmarks.worker TASK JSON``.

Every task prints one ``BENCH-RESULT {json}`` line (with the process's peak RSS) and nothing
else on stdout; progress goes to stderr.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import SEEDS, dir_size_mib, emit, log, offline, peak_rss_mib, rnd, rss_now, summary_ms
from rag.config import Settings


def _settings(store_dir: Path, **kw: Any) -> Settings:
    return Settings.from_env(store_dir=store_dir, chroma_url="", **kw)


def _warm_embedder() -> float:
    """Load the product's default encoder (what a new store embeds with) and embed once."""
    from rag.embed import DEFAULT_ENCODER, get_embeddings

    t0 = time.perf_counter()
    emb = get_embeddings(DEFAULT_ENCODER)
    emb.embed_documents(["warm-up sentence one.", "warm-up sentence two, a little longer."])
    return time.perf_counter() - t0


class _EncodeSpy:
    """Counts and times the encoder's ``encode`` calls made by the ingest path."""

    def __init__(self, st) -> None:
        self.st = st
        self.orig = st.encode
        self.calls = 0
        self.texts = 0
        self.seconds = 0.0

    def __enter__(self):
        def spy(sentences, *a, **kw):
            t0 = time.perf_counter()
            try:
                return self.orig(sentences, *a, **kw)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1
                self.texts += 1 if isinstance(sentences, str) else len(sentences)

        self.st.encode = spy
        return self

    def __exit__(self, *exc):
        try:
            del self.st.encode  # back to the class method
        except AttributeError:
            self.st.encode = self.orig


# --- 1. ingest -----------------------------------------------------------------------------

def task_ingest(a: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from benchmarks.corpus import write_documents
    from ingest.pipeline import Ingestor, prepare_document
    from rag.embed import DEFAULT_ENCODER, get_embeddings
    from rag.store import Store

    work = Path(a["workdir"])
    reps = int(a.get("reps", 2))
    base = _settings(work / "unused")
    paths, planned = write_documents(work / "docs", int(a["chunks"]), base, seed=a.get("seed", 1234))
    log(f"ingest: {len(paths)} synthetic documents, {planned} chunks")
    model_load_s = _warm_embedder()
    st = get_embeddings(DEFAULT_ENCODER)  # the encoder a new store embeds with; `encode` is its raw call
    result_encoder = getattr(st, "encoder", DEFAULT_ENCODER)
    batch = getattr(st, "batch_size", base.embed_batch_size)  # texts per encoder run, as ingest calls it

    t0 = time.perf_counter()
    for p in paths:
        prepare_document(p, base)
    prepare_s = time.perf_counter() - t0

    ingest_runs, raw_runs, spies = [], [], []
    texts: list[str] = []
    for r in range(reps):
        order = ["ingest", "raw"] if r % 2 == 0 else ["raw", "ingest"]
        for what in order:
            if what == "ingest":
                store = Store(_settings(work / f"store_{r}"))
                with _EncodeSpy(st) as spy:
                    t0 = time.perf_counter()
                    report = Ingestor(store).run(paths, progress=False)
                    dt = time.perf_counter() - t0
                ingest_runs.append({"seconds": dt, "chunks": report.added, "errors": len(report.errors)})
                spies.append({"encode_calls": spy.calls, "texts": spy.texts, "encode_s": spy.seconds})
                if not texts:
                    texts = [c.text for c in store.get()]
                log(f"ingest rep {r}: {report.added} chunks in {dt:.1f}s ({report.added / dt:.1f} chunks/s)")
            else:
                if not texts:
                    store0 = Store(_settings(work / "store_probe"))
                    Ingestor(store0).run(paths, progress=False)
                    texts = [c.text for c in store0.get()]
                prepped = list(texts)
                t0 = time.perf_counter()
                st.encode(prepped, batch)
                dt = time.perf_counter() - t0
                raw_runs.append({"seconds": dt, "chunks": len(prepped)})
                log(f"raw encode rep {r}: {len(prepped)} chunks in {dt:.1f}s ({len(prepped) / dt:.1f} chunks/s)")

    # Chroma write cost alone: the same chunks with precomputed embeddings
    store_w = Store(_settings(work / "store_write"))
    src = Store(_settings(work / "store_0"), create=False)
    got = src.collection.get(include=["documents", "metadatas", "embeddings"])
    t0 = time.perf_counter()
    for s in range(0, len(got["ids"]), 128):
        store_w.add(list(got["ids"][s:s + 128]), list(got["documents"][s:s + 128]),
                    [dict(m) for m in got["metadatas"][s:s + 128]], embeddings=np.asarray(got["embeddings"][s:s + 128]))
    write_s = time.perf_counter() - t0

    best_ingest = min(ingest_runs, key=lambda x: x["seconds"])
    best_raw = min(raw_runs, key=lambda x: x["seconds"])
    ingest_cps = best_ingest["chunks"] / best_ingest["seconds"]
    raw_cps = best_raw["chunks"] / best_raw["seconds"]
    spy0 = spies[ingest_runs.index(best_ingest)]
    result: dict[str, Any] = {
        "encoder": result_encoder,
        "documents": len(paths),
        "chunks": best_ingest["chunks"],
        "mean_chunk_chars": rnd(sum(len(t) for t in texts) / max(1, len(texts)), 0),
        "embed_batch_size": batch,
        "model_load_s": rnd(model_load_s, 2),
        "prepare_s": rnd(prepare_s, 2),
        "chroma_write_s": rnd(write_s, 2),
        "ingest_runs": [{k: rnd(v, 2) if isinstance(v, float) else v for k, v in x.items()} for x in ingest_runs],
        "raw_runs": [{k: rnd(v, 2) if isinstance(v, float) else v for k, v in x.items()} for x in raw_runs],
        "ingest_chunks_per_s": rnd(ingest_cps, 2),
        "raw_chunks_per_s": rnd(raw_cps, 2),
        "raw_over_ingest": rnd(raw_cps / ingest_cps, 2),
        "ingest_encode_calls": spy0["encode_calls"],
        "ingest_mean_encode_batch": rnd(spy0["texts"] / max(1, spy0["encode_calls"]), 1),
        "ingest_encode_share": rnd(spy0["encode_s"] / best_ingest["seconds"], 3),
    }

    # --- encoder variants on the same chunk texts
    n_enc = min(int(a.get("encoder_texts", 128)), len(texts))
    sample = [t.replace("\n", " ") for t in texts[:n_enc]]
    torch_st = get_embeddings("torch-fp32").model
    result["encoders"] = encoder_variants(torch_st, sample, work, reps=int(a.get("encoder_reps", reps)),
                                          batch=base.embed_batch_size, product=st)
    return result


def encoder_variants(st, texts: list[str], work: Path, reps: int, batch: int, product: Any = None) -> dict[str, Any]:
    import numpy as np
    import torch

    from benchmarks import encoders as E

    out: dict[str, Any] = {"texts": len(texts), "probe": E.probe_st_onnx(), "setup_s": {}, "errors": {}}
    log(f"encoders: sentence-transformers backend='onnx' usable offline: {out['probe'].get('st_onnx_ok')}")
    fp32 = E.st_encode_fn(st)
    variants: list[tuple[str, str, Any, int]] = [  # key, label, encode(texts, bs), batch
        ("torch_fp32_b32", f"torch fp32, batch {batch} (the ingest default before onnx-int8)", fp32, batch),
        ("torch_fp32_b16", "torch fp32, batch 16", fp32, 16),
        ("torch_fp32_b64", "torch fp32, batch 64", fp32, 64),
    ]
    if product is not None and getattr(product, "encoder", "") != "torch-fp32":
        # as ingest runs it: the encoder's own batch size (one text per run for int8, see rag/embed.py)
        variants.append(("product_default", f"rag.embed {product.encoder} (the ingest default), batch {product.batch_size}",
                         lambda texts_, bs: product.encode(texts_, bs), product.batch_size))
    threads = torch.get_num_threads()
    if threads > 1:
        def one_thread(texts_, bs, _f=fp32):
            torch.set_num_threads(1)
            try:
                return _f(texts_, bs)
            finally:
                torch.set_num_threads(threads)
        variants.append(("torch_fp32_1thread", f"torch fp32, 1 thread (default {threads}), batch {batch}", one_thread, batch))
    for key, per_channel, label in (("torch_int8", False, "torch dynamic int8 (quantize_dynamic, per-tensor)"),
                                    ("torch_int8_pc", True, "torch dynamic int8 (quantize_dynamic, per-channel)")):
        try:
            t0 = time.perf_counter()
            q = E.torch_int8(st, per_channel)
            out["setup_s"][key] = rnd(time.perf_counter() - t0, 2)
            variants.append((key, f"{label}, batch {batch}", E.st_encode_fn(q), batch))
        except Exception as exc:
            out["errors"][key] = f"{type(exc).__name__}: {exc}"
    onnx_dir = work / "onnx"
    try:
        t0 = time.perf_counter()
        plain = E.export_onnx(st, onnx_dir / "model.onnx")
        out["setup_s"]["onnx_export"] = rnd(time.perf_counter() - t0, 2)
        variants.append(("ort_fp32", f"onnxruntime fp32 (torch.onnx export), batch {batch}",
                         E.onnx_encode_fn(plain), batch))
        try:
            t0 = time.perf_counter()
            fused = E.optimize_onnx(plain, onnx_dir / "model_fused.onnx", st)
            out["setup_s"]["onnx_fuse"] = rnd(time.perf_counter() - t0, 2)
            variants.append(("ort_fp32_fused", f"onnxruntime fp32 + transformer fusions, batch {batch}",
                             E.onnx_encode_fn(fused), batch))
        except Exception as exc:
            out["errors"]["ort_fp32_fused"] = f"{type(exc).__name__}: {exc}"
        quant = [("ort_int8", plain, False, "onnxruntime dynamic int8 (per-tensor)"),
                 ("ort_int8_pc", plain, True, "onnxruntime dynamic int8 (per-channel)")]
        if (onnx_dir / "model_fused.onnx").exists():
            quant.append(("ort_fused_int8_pc", onnx_dir / "model_fused.onnx", True,
                          "onnxruntime fusions + dynamic int8 (per-channel)"))
        for key, src, per_channel, label in quant:
            try:
                t0 = time.perf_counter()
                qp = E.quantize_onnx(src, onnx_dir / f"{key}.onnx", per_channel)
                out["setup_s"][key] = rnd(time.perf_counter() - t0, 2)
                variants.append((key, f"{label}, batch {batch}", E.onnx_encode_fn(qp), batch))
            except Exception as exc:
                out["errors"][key] = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        out["errors"]["onnx_export"] = f"{type(exc).__name__}: {exc}"

    # warm every variant once on a few texts, then time them round-robin (the machine is shared)
    for key, _label, fn, bs in variants:
        fn(texts[:4], bs)
    times: dict[str, list[float]] = {v[0]: [] for v in variants}
    vecs: dict[str, Any] = {}
    for r in range(reps):
        seq = variants if r % 2 == 0 else list(reversed(variants))
        for key, _label, fn, bs in seq:
            t0 = time.perf_counter()
            v = fn(texts, bs)
            times[key].append(time.perf_counter() - t0)
            vecs[key] = np.asarray(v, dtype=np.float32)
    ref = vecs["torch_fp32_b32"]
    k = min(10, len(texts) - 1)

    def neighbours(v):
        sim = v @ v.T
        np.fill_diagonal(sim, -np.inf)
        return np.argsort(-sim, axis=1)[:, :k]

    ref_nn = neighbours(ref)
    base_t = min(times["torch_fp32_b32"])
    rows = []
    for key, label, _fn, _bs in variants:
        cos = E.cosine_rows(vecs[key], ref)
        nn = neighbours(vecs[key])
        overlap = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nn, ref_nn)])) if k > 0 else None
        best = min(times[key])
        rows.append({"key": key, "label": label, "chunks_per_s": rnd(len(texts) / best, 2),
                     "runs_s": [rnd(t, 2) for t in times[key]], "speedup_vs_fp32": rnd(base_t / best, 2),
                     "cos_mean": rnd(float(cos.mean()), 4), "cos_min": rnd(float(cos.min()), 4),
                     "nn10_overlap": rnd(overlap, 3)})
        log(f"encoder {label}: {len(texts) / best:.1f} chunks/s, x{base_t / best:.2f}, cos {cos.mean():.4f}")
    out["variants"] = rows
    return out


# --- 2. retrieval at scale -----------------------------------------------------------------

class _Bm25Probe:
    """BM25-only search: the Retriever's own (``lexical_search``) when it has one, else an identical
    bm25s index (benchmarks also run against revisions that predate the public method)."""

    def __init__(self, retriever, store) -> None:
        self.retriever, self.store = retriever, store
        self.own = None
        self.lexical_search = getattr(retriever, "lexical_search", None)

    def search(self, q: str, k: int):
        if self.lexical_search is not None:
            return self.lexical_search(q, k)
        import bm25s
        import Stemmer

        if self.own is None:
            chunks = self.store.get()
            stem = Stemmer.Stemmer("english")
            model = bm25s.BM25()
            model.index(bm25s.tokenize([c.text for c in chunks], stopwords="en", stemmer=stem, show_progress=False),
                        show_progress=False)
            self.own = (model, stem)
        model, stem = self.own
        toks = bm25s.tokenize([q], stopwords="en", stemmer=stem, show_progress=False)
        return model.retrieve(toks, k=k, show_progress=False)


def task_scale(a: dict[str, Any]) -> dict[str, Any]:
    from langchain_core.documents import Document

    from benchmarks.corpus import Pool, queries, replicate, write_documents
    from ingest.pipeline import Ingestor
    from rag.embed import get_embeddings
    from rag.retrieve import Retriever
    from rag.store import Store

    n = int(a["n"])
    work = Path(a["workdir"])
    store_dir = work / f"store_{n}"
    settings = _settings(store_dir)
    res: dict[str, Any] = {"n_target": n, "mode": a["mode"]}
    rss: dict[str, Any] = {"start": rss_now()}
    res["model_load_s"] = rnd(_warm_embedder(), 2)
    rss["embedder_loaded"] = rss_now()
    if a["mode"] == "ingestor":
        paths, planned = write_documents(work / f"docs_{n}", n, settings, seed=a.get("seed", 1234))
        store = Store(settings)
        t0 = time.perf_counter()
        report = Ingestor(store).run(paths, progress=False)
        res["ingest_s"] = rnd(time.perf_counter() - t0, 2)
        res["documents"] = len(paths)
        res["errors"] = len(report.errors)
        if a.get("pool_out"):
            Pool.from_store(store).save(Path(a["pool_out"]))
    else:
        pool = Pool.load(Path(a["pool"]))
        store = Store(settings)
        add_s = 0.0
        t0 = time.perf_counter()
        cos: list[float] = []
        for ids, texts, metas, emb, src, reps in replicate(pool, n, noise=float(a.get("noise", 0.25))):
            docs = [Document(id=i, page_content=t, metadata=m) for i, t, m in zip(ids, texts, metas)]
            t1 = time.perf_counter()
            store.add_documents(docs, embeddings=emb)
            add_s += time.perf_counter() - t1
            moved = reps > 0
            if moved.any() and len(cos) < 20000:
                cos.extend((emb[moved] * pool.embeddings[src[moved]]).sum(1).tolist())
        res["ingest_s"] = rnd(time.perf_counter() - t0, 2)
        res["store_add_s"] = rnd(add_s, 2)
        res["pool_chunks"] = len(pool.ids)
        res["replicas"] = math.ceil(n / len(pool.ids))
        res["perturbed_cosine_to_source"] = rnd(sum(cos) / len(cos), 4) if cos else None
    res["chunks"] = store.count()
    res["disk_mib"] = dir_size_mib(store_dir)
    res["peak_rss_build_mib"] = peak_rss_mib()
    rss["built"] = rss_now()

    nq = int(a.get("queries", 40))
    if nq > 0:
        pool_size = int(a.get("pool_size") or n)
        qs = queries(nq, replicas=max(1, math.ceil(n / pool_size)))
        retriever = Retriever(store, settings)
        bm25 = _Bm25Probe(retriever, store)
        emb = get_embeddings(store.encoder)
        k = settings.candidates
        t0 = time.perf_counter()
        retriever.run(qs[0])
        res["first_query_ms"] = rnd((time.perf_counter() - t0) * 1000, 1)  # includes the BM25 index build
        t0 = time.perf_counter()
        bm25.search(qs[0], k)
        res["bm25_probe_first_ms"] = rnd((time.perf_counter() - t0) * 1000, 1)
        lat: dict[str, list[float]] = {"embed": [], "dense_search": [], "dense": [], "bm25": [], "fused": [],
                                       "fused_reported": []}
        for q in qs:
            t0 = time.perf_counter()
            vec = store.embed_query(q)  # the product's query path (one thread)
            t1 = time.perf_counter()
            store.dense_search(vec, k=k)
            t2 = time.perf_counter()
            bm25.search(q, k)
            t3 = time.perf_counter()
            r = retriever.run(q)
            t4 = time.perf_counter()
            lat["embed"].append((t1 - t0) * 1000)
            lat["dense_search"].append((t2 - t1) * 1000)
            lat["dense"].append((t2 - t0) * 1000)
            lat["bm25"].append((t3 - t2) * 1000)
            lat["fused"].append((t4 - t3) * 1000)
            lat["fused_reported"].append(float(r.elapsed_ms))
        res["latency_ms"] = {key: summary_ms(v) for key, v in lat.items()}
        if a.get("thread_probe"):
            res["query_embed_threads"] = _thread_probe(emb, qs[: min(len(qs), 20)])
        res["queries"] = nq
        res["sample_queries"] = qs[:3]
    res["peak_rss_mib"] = peak_rss_mib()
    rss["end"] = rss_now()
    res["rss"] = rss
    return res


def _thread_probe(emb, qs: list[str]) -> dict[str, Any]:
    """Query-embedding latency with every core vs one thread, interleaved."""
    if hasattr(emb, "query_session"):  # onnxruntime: one session per thread count
        lat_ort: dict[str, list[float]] = {f"threads_{emb.batch_session.get_session_options().intra_op_num_threads}": [],
                                           "threads_1": []}
        for q in qs:
            for key, session in zip(lat_ort, (emb.batch_session, emb.query_session)):
                t0 = time.perf_counter()
                emb.encode([q], session=session)
                lat_ort[key].append((time.perf_counter() - t0) * 1000)
        return {k: summary_ms(v) for k, v in lat_ort.items()}
    import torch

    default = torch.get_num_threads()
    lat: dict[str, list[float]] = {f"threads_{default}": [], "threads_1": []}
    for q in qs:
        for th in (default, 1):
            torch.set_num_threads(th)
            t0 = time.perf_counter()
            emb.embed_query(q)
            lat[f"threads_{th}"].append((time.perf_counter() - t0) * 1000)
    torch.set_num_threads(default)
    return {k: summary_ms(v) for k, v in lat.items()}


# --- 3. generation -------------------------------------------------------------------------

def task_seed_store(a: dict[str, Any]) -> dict[str, Any]:
    from ingest.pipeline import Ingestor
    from rag.store import Store

    settings = _settings(Path(a["store_dir"]))
    load_s = _warm_embedder()
    store = Store(settings)
    t0 = time.perf_counter()
    report = Ingestor(store).run([SEEDS], progress=False)
    dt = time.perf_counter() - t0
    return {"documents": len(report.documents), "chunks": store.count(), "ingest_s": rnd(dt, 2),
            "model_load_s": rnd(load_s, 2), "errors": [str(e) for e in report.errors]}


class _Perf:
    """llama.cpp's own counters: prompt-eval and decode token counts and milliseconds."""

    def __init__(self, llama) -> None:
        import llama_cpp

        self.lib, self.llama = llama_cpp, llama

    def reset(self) -> None:
        self.lib.llama_perf_context_reset(self.llama.ctx)

    def read(self) -> dict[str, float]:
        d = self.lib.llama_perf_context(self.llama.ctx)
        return {"prompt_tokens": int(d.n_p_eval), "prompt_ms": float(d.t_p_eval_ms),
                "decode_tokens": int(d.n_eval), "decode_ms": float(d.t_eval_ms)}


class _Abort(Exception):
    pass


class _CallSpy:
    """Records the keyword arguments (messages, sampling) of every create_chat_completion call."""

    def __init__(self, llama, abort: bool = False) -> None:
        self.llama = llama
        self.abort = abort
        self.orig = llama.create_chat_completion
        self.calls: list[dict[str, Any]] = []
        self.started: list[float] = []

    def __enter__(self):
        def spy(*args, **kw):
            self.calls.append(dict(kw))
            self.started.append(time.perf_counter())
            if self.abort:
                raise _Abort()
            return self.orig(*args, **kw)

        self.llama.create_chat_completion = spy
        return self

    def __exit__(self, *exc):
        self.llama.create_chat_completion = self.orig


def _raw_run(llama, perf: "_Perf", call: dict[str, Any]):
    """The pipeline's model call replayed on raw llama-cpp-python (non-streaming), from a reset KV cache."""
    raw_kw = {k: v for k, v in call.items() if k != "stream"}
    llama.reset()
    perf.reset()
    t0 = time.perf_counter()
    out = llama.create_chat_completion(**raw_kw)
    return out, time.perf_counter() - t0, perf.read()


def _decode_probe(llama, perf: "_Perf", n: int = 128) -> dict[str, Any]:
    """Raw decode speed over a fixed number of tokens (end-of-text tokens banned), short prompt."""
    bans = {llama.token_eos(): -1e9}
    for special in ("<|im_end|>", "<|endoftext|>"):
        try:
            for tok in llama.tokenize(special.encode(), add_bos=False, special=True):
                bans[tok] = -1e9
        except Exception:
            pass
    llama.reset()
    perf.reset()
    t0 = time.perf_counter()
    llama.create_completion("The history of diplomacy between neighbouring states", max_tokens=n, temperature=0.0,
                            top_k=1, logit_bias=bans)
    wall = time.perf_counter() - t0
    pf = perf.read()
    return {"tokens": pf["decode_tokens"], "decode_ms": rnd(pf["decode_ms"], 1), "wall_s": rnd(wall, 2),
            "decode_tps": rnd(pf["decode_tokens"] / (pf["decode_ms"] / 1000), 2) if pf["decode_ms"] else None,
            "prompt_tokens": pf["prompt_tokens"]}


def _local_llm(settings: Settings):
    from rag.llm import LlamaCppChat, make_llm

    llm = make_llm("local", settings=settings)
    if not isinstance(llm, LlamaCppChat):
        raise RuntimeError(f"expected the local llama.cpp model, got {type(llm).__name__}")
    t0 = time.perf_counter()
    llama = llm._llama()
    load_s = time.perf_counter() - t0
    return llm, llama, load_s


def task_generation(a: dict[str, Any]) -> dict[str, Any]:
    from rag.answer import Answer, build_answerer, evidence_text
    from rag.store import Store
    from rag.verify import verify_answer

    settings = _settings(Path(a["store_dir"]), llm="local")
    store = Store(settings, create=False)
    _warm_embedder()
    llm, llama, load_s = _local_llm(settings)
    perf = _Perf(llama)
    answerer = build_answerer(settings, store=store, llm=llm)
    # warm-up: one tiny completion so first-call costs (graph allocation) are not in the figures
    llama.create_chat_completion(messages=[{"role": "user", "content": "Say OK."}], max_tokens=2, temperature=0.0)
    finish_reps = int(a.get("finish_reps", 50))
    rows = []
    for qi, question in enumerate(a["questions"]):
        log(f"generation: question {qi + 1}/{len(a['questions'])}: {question}")
        row: dict[str, Any] = {"question": question}
        raw_first = qi % 2 == 1  # alternate the order: the machine is shared and drifts
        call = None
        if raw_first:
            # capture the pipeline's exact model call without generating: the spy aborts it
            with _CallSpy(llama, abort=True) as cap:
                try:
                    for _ in answerer.stream(question):
                        pass
                except _Abort:
                    pass
            call = cap.calls[-1] if cap.calls else None
            if call is not None:
                out, raw_total, r_perf = _raw_run(llama, perf, call)
        llama.reset()
        perf.reset()
        with _CallSpy(llama) as spy:
            t0 = t_pipe = time.perf_counter()
            ttft = t_last = None
            n_chunks = 0
            answer = None
            for ev in answerer.stream(question):
                now = time.perf_counter()
                if isinstance(ev, Answer):
                    answer = ev
                elif isinstance(ev, str):
                    n_chunks += 1
                    ttft = ttft if ttft is not None else now - t0
                    t_last = now - t0
            total = time.perf_counter() - t0
        p_perf = perf.read()
        row.update({"refused": answer.refused if answer else None, "answer": answer.answer if answer else None,
                    "raw_answer": answer.raw if answer else None, "order": "raw, pipeline" if raw_first else "pipeline, raw",
                    "pipeline_total_s": rnd(total, 3), "ttft_s": rnd(ttft, 3),
                    "pipeline_timings_ms": {k: rnd(v, 1) for k, v in (answer.timings if answer else {}).items()},
                    "streamed_chunks": n_chunks, "pipeline_llama": p_perf})
        if not spy.calls:
            row["note"] = "refused before generation (no model call): nothing to compare"
            rows.append(row)
            continue
        if call is None:
            call = spy.calls[-1]
            out, raw_total, r_perf = _raw_run(llama, perf, call)
        elif call.get("messages") != spy.calls[-1].get("messages"):
            row["warning"] = "captured messages differ from the pipeline's own call"
        row["pre_llm_s"] = rnd(spy.started[-1] - t0, 3)
        row["after_last_token_s"] = rnd(total - t_last, 4) if t_last is not None else None
        raw_text = out["choices"][0]["message"]["content"] or ""
        row.update({"raw_total_s": rnd(raw_total, 3), "raw_usage": out.get("usage"), "raw_llama": r_perf,
                    "same_text": raw_text.strip() == (answer.raw or "").strip(),
                    "pipeline_over_raw": rnd(total / raw_total, 3),
                    "prompt_messages_chars": sum(len(m.get("content") or "") for m in call.get("messages", []))})
        # time outside llama.cpp's own prompt/decode work: robust to the machine slowing the model itself
        row["pipeline_non_model_s"] = rnd(total - (p_perf["prompt_ms"] + p_perf["decode_ms"]) / 1000, 3)
        row["raw_non_model_s"] = rnd(raw_total - (r_perf["prompt_ms"] + r_perf["decode_ms"]) / 1000, 3)
        row["pipeline_overhead_s"] = rnd(row["pipeline_non_model_s"] - row["raw_non_model_s"], 3)
        for key, pf in (("pipeline", p_perf), ("raw", r_perf)):
            row[f"{key}_prompt_tps"] = rnd(pf["prompt_tokens"] / (pf["prompt_ms"] / 1000), 1) if pf["prompt_ms"] else None
            row[f"{key}_decode_tps"] = rnd(pf["decode_tokens"] / (pf["decode_ms"] / 1000), 1) if pf["decode_ms"] else None
        # wall-clock rates through the pipeline: prompt phase = model call → first token
        if ttft is not None:
            prompt_wall = ttft - (spy.started[-1] - t_pipe)
            row["pipeline_prompt_tps_wall"] = rnd(p_perf["prompt_tokens"] / prompt_wall, 1) if prompt_wall > 0 else None
            if t_last is not None and t_last > ttft:
                row["pipeline_decode_tps_wall"] = rnd(p_perf["decode_tokens"] / (t_last - ttft), 1)
        usage = out.get("usage") or {}
        if usage.get("completion_tokens") and raw_total:
            row["raw_decode_tps_wall"] = rnd(usage["completion_tokens"] / max(1e-9, raw_total - r_perf["prompt_ms"] / 1000), 1)
        # citation check cost on this answer
        if answer is not None and answer.passages:
            passages = answer.passages
            evidence = {i: evidence_text(i, p) for i, p in enumerate(passages, start=1)}
            ts = []
            for _ in range(finish_reps):
                t0 = time.perf_counter()
                verify_answer(answer.raw, evidence, settings.support_threshold)
                ts.append((time.perf_counter() - t0) * 1000)
            row["verify_ms"] = summary_ms(ts)
            try:
                ts = []
                for _ in range(finish_reps):
                    t0 = time.perf_counter()
                    standalone = answer.standalone_question or question
                    answerer.finish(question, standalone, answer.raw, passages, dict(answer.timings),
                                    conflict=answerer.premise_check(standalone))
                    ts.append((time.perf_counter() - t0) * 1000)
                row["finish_ms"] = summary_ms(ts)
            except Exception as exc:  # Answerer.finish is being reworked elsewhere; report, don't fail
                row["finish_error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
        log(f"  pipeline {total:.1f}s (ttft {ttft or 0:.1f}s) vs raw {raw_total:.1f}s; same text: {row['same_text']}")
    log("generation: raw decode probe (128 tokens)")
    probe = _decode_probe(llama, perf)
    return {"model_load_s": rnd(load_s, 2), "decode_probe": probe, "n_ctx": settings.n_ctx, "n_threads": settings.n_threads,
            "n_batch": settings.n_batch, "max_tokens": settings.max_tokens, "top_k": settings.top_k,
            "questions": rows}


# --- 3b. answer latency --------------------------------------------------------------------

def _prompt_tokens(llama, messages: list[dict[str, Any]]) -> int:
    """Tokens of a chat call's whole prompt, as the GGUF's chat template renders it."""
    # Qwen's ChatML, the GGUF's own template; only the count matters here
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"
    return len(llama.tokenize(text.encode(), add_bos=False, special=True))


def _raw_prompt_rate(llama, perf: "_Perf", messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Physical reference: raw llama.cpp reading the same prompt from an empty KV cache (one token out)."""
    llama.reset()
    perf.reset()
    t0 = time.perf_counter()
    llama.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0, top_k=1)
    wall = time.perf_counter() - t0
    pf = perf.read()
    return {"prompt_tokens": pf["prompt_tokens"], "prompt_ms": rnd(pf["prompt_ms"], 1), "wall_ms": rnd(wall * 1000, 1),
            "prompt_tps": rnd(pf["prompt_tokens"] / (pf["prompt_ms"] / 1000), 1) if pf["prompt_ms"] else None}


def task_latency(a: dict[str, Any]) -> dict[str, Any]:
    """Time to first token and to the verified answer, per question, for each configuration in turn.

    Configurations alternate question by question (the machine is shared and drifts); the KV cache
    is kept between questions as in a running chat, so a prompt prefix shared with the previous
    call (the fixed instructions) is read once. ``prompt_eval_tokens`` < ``prompt_tokens`` shows it.
    """
    from rag.answer import build_answerer
    from rag.store import Store

    settings = _settings(Path(a["store_dir"]), llm="local")
    store = Store(settings, create=False)
    _warm_embedder()
    llm, llama, load_s = _local_llm(settings)
    perf = _Perf(llama)
    configs = {name: build_answerer(settings.with_(**changes), store=store, llm=llm) for name, changes in a["configs"].items()}
    # warm-up (graph allocation, caches) on a question of its own: one of the timed questions would
    # leave its whole prompt in the KV cache and make its first token free
    next(iter(configs.values())).run("What do the documents say about the weather?")
    rows: list[dict[str, Any]] = []
    for qi, question in enumerate(a["questions"]):
        log(f"latency: question {qi + 1}/{len(a['questions'])}: {question}")
        order = list(configs) if qi % 2 == 0 else list(reversed(configs))
        row: dict[str, Any] = {"question": question, "order": order}
        for name in order:
            with _CallSpy(llama) as spy:
                perf.reset()
                answer = configs[name].run(question)
            pf = perf.read()
            t = answer.timings
            cell = {"first_token_ms": rnd(t.get("first_token_ms"), 1), "total_ms": rnd(t.get("total_ms"), 1),
                    "refused": answer.refused, "answer": answer.answer,
                    "prompt_eval_tokens": pf["prompt_tokens"], "decode_tokens": pf["decode_tokens"],
                    "prompt_tps": rnd(pf["prompt_tokens"] / (pf["prompt_ms"] / 1000), 1) if pf["prompt_ms"] else None}
            if spy.calls:
                messages = spy.calls[-1]["messages"]
                cell["prompt_tokens"] = _prompt_tokens(llama, messages)
                cell["messages"] = messages
            row[name] = cell
        for name in configs:  # the raw reference on each configuration's own prompt, after the timed runs
            if "messages" in row[name]:
                row[name]["raw"] = _raw_prompt_rate(llama, perf, row[name].pop("messages"))
        rows.append(row)
        log("  " + "; ".join(f"{n}: first token {row[n]['first_token_ms']} ms, verified {row[n]['total_ms']} ms, "
                             f"{row[n].get('prompt_tokens')} prompt tokens" for n in configs))
    return {"model_load_s": rnd(load_s, 2), "configs": a["configs"], "questions": rows, "n_threads": settings.n_threads}


# --- 4. memory -----------------------------------------------------------------------------

def task_chat_memory(a: dict[str, Any]) -> dict[str, Any]:
    phases: dict[str, Any] = {"interpreter": rss_now()}
    from rag.answer import build_answerer
    from rag.store import Store

    phases["imports"] = rss_now()
    settings = _settings(Path(a["store_dir"]), llm="local")
    store = Store(settings, create=False)
    store.embed_query("warm-up question")  # the encoder loads on its first use
    phases["store_and_embedder"] = rss_now()
    llm, llama, load_s = _local_llm(settings)
    phases["model_loaded"] = rss_now()
    answerer = build_answerer(settings, store=store, llm=llm)
    t0 = time.perf_counter()
    answer = answerer.run(a["question"])
    answer_s = time.perf_counter() - t0
    phases["answered"] = rss_now()
    res: dict[str, Any] = {"question": a["question"], "answer_s": rnd(answer_s, 2), "model_load_s": rnd(load_s, 2),
                           "refused": answer.refused, "phases": phases}
    try:
        import psutil

        full = psutil.Process().memory_full_info()
        res["uss_mib"] = rnd(full.uss / 1024 / 1024, 1)
        res["pss_mib"] = rnd(full.pss / 1024 / 1024, 1)
    except Exception as exc:
        res["psutil_error"] = str(exc)
    return res


# --- 5. briefing ---------------------------------------------------------------------------

def task_briefing(a: dict[str, Any]) -> dict[str, Any]:
    from rag.answer import build_answerer
    from rag.brief import Briefer
    from rag.store import Store

    settings = _settings(Path(a["store_dir"]), llm="local")
    store = Store(settings, create=False)
    _warm_embedder()
    llm, llama, load_s = _local_llm(settings)
    perf = _Perf(llama)
    answerer = build_answerer(settings, store=store, llm=llm)
    calls: list[dict[str, Any]] = []
    orig = llama.create_chat_completion

    def spy(*args, **kw):
        perf.reset()
        t0 = time.perf_counter()
        out = orig(*args, **kw)
        if kw.get("stream"):
            out = list(out)
        row = perf.read()
        row["wall_s"] = time.perf_counter() - t0
        calls.append(row)
        return iter(out) if kw.get("stream") else out

    llama.create_chat_completion = spy
    progress: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    try:
        briefing = Briefer(answerer).briefing(None, progress=lambda m: progress.append((time.perf_counter() - t0, m)))
    finally:
        llama.create_chat_completion = orig
    wall = time.perf_counter() - t0
    llm_s = sum(c["wall_s"] for c in calls)
    return {"wall_s": rnd(wall, 2), "model_load_s": rnd(load_s, 2), "documents": len(store.sources()),
            "llm_calls": len(calls), "llm_s": rnd(llm_s, 2), "other_s": rnd(wall - llm_s, 2),
            "prompt_tokens": sum(c["prompt_tokens"] for c in calls), "decode_tokens": sum(c["decode_tokens"] for c in calls),
            "prompt_ms": rnd(sum(c["prompt_ms"] for c in calls), 0), "decode_ms": rnd(sum(c["decode_ms"] for c in calls), 0),
            "bullets": len(briefing.bullets), "citations": len(briefing.citations),
            "markdown_chars": len(briefing.markdown), "markdown_head": briefing.markdown[:600],
            "progress": [(rnd(t, 1), m) for t, m in progress]}


TASKS = {"ingest": task_ingest, "scale": task_scale, "seed_store": task_seed_store, "generation": task_generation,
         "latency": task_latency,
         "chat_memory": task_chat_memory, "briefing": task_briefing}


def main(argv: list[str]) -> None:
    offline()  # first: the tasks import chromadb, sentence-transformers and llama.cpp lazily
    task, args = argv[1], json.loads(argv[2]) if len(argv) > 2 else {}
    result = TASKS[task](args)
    emit(result)


if __name__ == "__main__":
    main(sys.argv)
