"""Render results.json into results.md and PNG plots (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import machine_line


def _fmt(x: Any, nd: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return str(x)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(c if isinstance(c, str) else _fmt(c) for c in row) + " |" for row in rows]
    return out


def _stamp(entry: dict[str, Any]) -> str:
    m = entry.get("machine", {})
    return f"{machine_line(m)}; {entry.get('date', '?')}"


def _contention(r: dict[str, Any]) -> str:
    la = r.get("loadavg_before")
    cpw = r.get("worker_cpu_per_wall")
    bits = []
    if la:
        bits.append(f"load average before {la[0]:.1f}")
    if r.get("loadavg_after"):
        bits.append(f"after {r['loadavg_after'][0]:.1f}")
    if cpw is not None:
        bits.append(f"CPU seconds per wall second of the benchmark process {cpw:.2f}")
    return "; ".join(bits)


def _footer(fig, entry: dict[str, Any]) -> None:
    fig.text(0.01, 0.005, _stamp(entry), fontsize=6.5, color="#555555", ha="left", va="bottom")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- sections ------------------------------------------------------------------------------

def _ingest(entry: dict[str, Any], out: Path) -> list[str]:
    r = entry["result"]
    md = [f"Synthetic corpus of {r['documents']} documents, {r['chunks']} chunks (mean {_fmt(r['mean_chunk_chars'], 0)} "
          f"characters), chunk size/overlap from Settings, encoder {r.get('encoder', 'torch-fp32')} at "
          f"{r['embed_batch_size']} text(s) per run. "
          f"Best of {len(r['ingest_runs'])} runs each, ingest and raw encoding interleaved. {_contention(r)}.", ""]
    md += _table(["path", "chunks/s", "runs (s)"], [
        ["whole ingest path: `Ingestor(store).run` into a fresh Chroma store", r["ingest_chunks_per_s"],
         ", ".join(_fmt(x["seconds"], 1) for x in r["ingest_runs"])],
        [f"raw encoder: the default encoder's own `encode` ({r.get('encoder', 'torch-fp32')}) on the same chunk texts, "
         f"batch {r['embed_batch_size']}",
         r["raw_chunks_per_s"], ", ".join(_fmt(x["seconds"], 1) for x in r["raw_runs"])],
    ])
    md += ["", f"**Raw encoder / ingest path = {_fmt(r['raw_over_ingest'], 2)}×.** Inside the ingest path the encoder was "
           f"called {r['ingest_encode_calls']} times with {_fmt(r['ingest_mean_encode_batch'], 1)} chunks per call on "
           f"average (the ingest path gathers several documents' new chunks per encode call; the encoder runs "
           f"{r['embed_batch_size']} text(s) at a time); encoding was "
           f"{_fmt(100 * (r['ingest_encode_share'] or 0), 0)}% of ingest wall time. Load+clean+split of all documents "
           f"took {_fmt(r['prepare_s'], 2)} s; writing the same chunks with precomputed embeddings to Chroma took "
           f"{_fmt(r['chroma_write_s'], 2)} s. Loading the encoder: {_fmt(r['model_load_s'], 1)} s (not counted).", ""]
    enc = r.get("encoders") or {}
    probe = enc.get("probe") or {}
    md += [f"### Faster encoder paths ({enc.get('texts')} of the same chunk texts)", ""]
    if probe:
        if probe.get("st_onnx_ok"):
            md.append("sentence-transformers `backend=\"onnx\"` loaded the bundled model offline.")
        else:
            md.append(
                "sentence-transformers `backend=\"onnx\"` is **not usable offline here**: the bundled model directory "
                f"has {'an' if probe.get('has_onnx_dir') else 'no'} `onnx/` folder, so sentence-transformers would have to "
                "export one through `optimum-onnx`, which is not installed "
                f"(`{probe.get('st_onnx_error', '')}`). Installing it is not an option for the project: optimum-onnx 0.1.0 "
                "requires transformers < 4.58 and would downgrade the project's transformers 5.x. Instead the product "
                "(rag/embed.py) and this benchmark export the same model with `torch.onnx.export` (needs only the `onnx` "
                "package) and run it with onnxruntime directly, with the model's tokenizer, mean pooling and L2 "
                "normalisation. Nothing is downloaded.")
        md.append("")
    rows = []
    for v in enc.get("variants", []):
        rows.append([v["label"], v["chunks_per_s"], f"{_fmt(v['speedup_vs_fp32'], 2)}×", _fmt(v["cos_mean"], 4),
                     _fmt(v["cos_min"], 4), _fmt(v["nn10_overlap"], 3)])
    if rows:
        md += _table(["encoder", "chunks/s (best)", "vs torch fp32 b32", "cosine to fp32 (mean)", "cosine (min)",
                      "10-NN overlap"], rows)
        md += ["", "Cosine: each text's vector against the torch fp32 vector of the same text. 10-NN overlap: share of "
               "each text's 10 nearest neighbours (among these texts) that the fp32 vectors also rank in their top 10 — "
               "a proxy for whether dense retrieval would return the same passages. One-time setup: "
               + ", ".join(f"{k} {v} s" for k, v in (enc.get("setup_s") or {}).items()) + "."]
    for k, e in (enc.get("errors") or {}).items():
        md.append(f"- {k}: failed — `{e}`")
    md.append("")
    if enc.get("variants"):
        plt = _plt()
        variants = enc["variants"]
        labels = ["Ingestor (whole path)", f"raw encode b32 ({r.get('encoder', 'torch-fp32')})"] + [v["label"] for v in variants]
        vals = [r["ingest_chunks_per_s"], r["raw_chunks_per_s"]] + [v["chunks_per_s"] for v in variants]
        colors = ["#c44e52", "#4c72b0"] + ["#55a868" if v["key"].startswith(("ort", "product")) else "#8172b2" for v in variants]
        fig, ax = plt.subplots(figsize=(9, 0.42 * len(labels) + 1.4))
        y = range(len(labels))[::-1]
        ax.barh(list(y), vals, color=colors)
        for yi, v, lab in zip(y, vals, [None, None] + variants):
            note = f" {v:.1f}" + (f"  (cos {lab['cos_mean']:.3f})" if lab else "")
            ax.text(v, yi, note, va="center", fontsize=8)
        ax.set_yticks(list(y))
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_xlabel("chunks per second (higher is better)")
        ax.set_title("Ingest path vs encoder variants (all-MiniLM-L6-v2, CPU)")
        ax.set_xlim(0, max(vals) * 1.35)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        _footer(fig, entry)
        fig.savefig(out / "ingest_encoders.png", dpi=110)
        plt.close(fig)
        md += ["![ingest and encoder throughput](ingest_encoders.png)", ""]
    return md


def _retrieval(entry: dict[str, Any], out: Path) -> list[str]:
    r = entry["result"]
    scales = sorted(r["scales"], key=lambda s: s["chunks"])
    md = []
    pool = r.get("pool_chunks")
    synthetic = [s for s in scales if s["mode"] == "replicate"]
    md.append("Synthetic corpus generated locally from the seed sentences with new names and dates per document "
              "(`benchmarks/corpus.py`).")
    real = [s for s in scales if s["mode"] == "ingestor"]
    if real:
        md.append(f"Scales of up to {r['real_max']:,} chunks were written as .txt documents and ingested through the real "
                  "`Ingestor` (every chunk embedded by MiniLM).")
    if synthetic:
        cos = next((s.get("perturbed_cosine_to_source") for s in synthetic if s.get("perturbed_cosine_to_source")), None)
        md.append(f"**Larger scales are not fully embedded**: embedding {synthetic[-1]['chunks']:,} chunks through the "
                  f"ingest path on this machine would take ~{_fmt((synthetic[-1].get('estimated_full_ingest_s') or 0) / 60, 0)} "
                  f"min at the rate measured here ({_fmt(r.get('ingest_chunks_per_s_real'), 1)} chunks/s). "
                  f"They are built from the {pool:,} embedded chunks: replica r renames every generated name and shifts "
                  f"years in the text and metadata (so BM25 sees new vocabulary), and its embedding is the pool "
                  f"chunk's plus Gaussian noise, renormalised (mean cosine to the source vector {_fmt(cos, 3)}); chunks "
                  "go in with `store.add_documents(..., embeddings=...)`. Their 'ingest time' is therefore Chroma's write time "
                  "with precomputed vectors; the full-path estimate is given beside it.")
    md.append(f"{r.get('scales')[0].get('queries', '?')} questions per scale naming people, places and dates from "
              "the corpus. Latencies per query: *embed* = `store.embed_query` (the store's encoder, one thread); *dense search* = "
              "`store.dense_search(vector, k=candidates)`; *dense* = both; *BM25* = the Retriever's bm25s index "
              "search; *fused* = `Retriever(store).run(question)` (embed + dense + BM25 + RRF + time boost).")
    md.append("")
    rows = []
    for s in scales:
        L = s.get("latency_ms") or {}
        g = lambda k, q: (L.get(k) or {}).get(q)  # noqa: E731
        rows.append([f"{s['chunks']:,}", "Ingestor" if s["mode"] == "ingestor" else "pool + perturbation",
                     g("embed", "p50"), g("embed", "p95"), g("dense_search", "p50"), g("dense_search", "p95"),
                     g("dense", "p50"), g("dense", "p95"), g("bm25", "p50"), g("bm25", "p95"),
                     g("fused", "p50"), g("fused", "p95")])
    md += _table(["chunks", "built by", "embed p50", "p95", "dense search p50", "p95", "dense p50", "p95",
                  "BM25 p50", "p95", "fused p50", "p95"], rows)
    md += ["", "(milliseconds)", ""]
    rows = []
    for s in scales:
        rows.append([f"{s['chunks']:,}", _fmt(s.get("ingest_s"), 1),
                     _fmt(s.get("estimated_full_ingest_s"), 0) if s["mode"] == "replicate" else "(measured)",
                     _fmt(s.get("disk_mib"), 1), _fmt(s.get("first_query_ms"), 0), _fmt(s.get("peak_rss_build_mib"), 0),
                     _fmt(s.get("peak_rss_mib"), 0)])
    md += _table(["chunks", "ingest / write s", "full-path estimate s", "disk MiB", "first query ms (BM25 index build)",
                  "peak RSS after build MiB", "peak RSS after queries MiB"], rows)
    md.append("")
    errs = [s for s in scales if s.get("fused_error")]
    for s in errs:
        md.append(f"**At {s['chunks']:,} chunks `Retriever.run` fails**: `{s['fused_error']}` (after "
                  f"{_fmt(s.get('fused_error_first_query_ms'), 0)} ms). `Store.get()` with no filter (used to build the "
                  "BM25 index, and by `Store.sources()`) asks Chroma for every row in one query, and SQLite refuses past "
                  "~32k rows. The BM25 and fused figures at this scale were measured with a benchmark-only patch "
                  f"({s.get('workaround')}); the fix belongs in `rag/store.py` (page with `limit`/`offset`).")
    if errs:
        md.append("")
    probe = next((s.get("query_embed_threads") for s in scales if s.get("query_embed_threads")), None)
    if probe:
        parts = ", ".join(f"{k.replace('_', ' ')}: p50 {_fmt(v['p50'], 1)} ms / p95 {_fmt(v['p95'], 1)} ms"
                          for k, v in probe.items())
        md += [f"Query embedding on every core vs one thread (the store's encoder, same questions, interleaved): {parts}. "
               "On a shared 2-core machine a 2-thread pool can stall badly when another process holds a core; one "
               "thread does not, so questions are embedded on one.", ""]
    md.append("Contention: " + "; ".join(f"{s['chunks']:,}: {_contention(s)}" for s in scales) + ".")
    md.append("")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [s["chunks"] for s in scales if s.get("latency_ms")]
    series = [("fused", "fused (Retriever.run)", "#c44e52"), ("dense", "dense (embed + search)", "#4c72b0"),
              ("dense_search", "dense search only", "#8172b2"), ("bm25", "BM25", "#55a868")]
    for key, label, color in series:
        p50 = [s["latency_ms"][key]["p50"] for s in scales if s.get("latency_ms")]
        p95 = [s["latency_ms"][key]["p95"] for s in scales if s.get("latency_ms")]
        ax.plot(xs, p50, "o-", color=color, label=f"{label} p50")
        ax.plot(xs, p95, "s--", color=color, alpha=0.6, label=f"{label} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{x // 1000}k" if x >= 1000 and x % 1000 == 0 else f"{x:,}" for x in xs])
    ax.minorticks_off()
    ax.set_xlabel("chunks in the store")
    ax.set_ylabel("latency per query (ms)")
    ax.set_title("Retrieval latency vs corpus size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _footer(fig, entry)
    fig.savefig(out / "retrieval_latency.png", dpi=110)
    plt.close(fig)
    md += ["![retrieval latency vs size](retrieval_latency.png)", ""]
    return md


def _generation(entry: dict[str, Any], out: Path) -> list[str]:
    r = entry["result"]
    seed = r.get("seed_store") or {}
    md = [f"Seed store: {seed.get('documents')} documents, {seed.get('chunks')} chunks (ingested in "
          f"{_fmt(seed.get('ingest_s'), 1)} s). Model: bundled Qwen2.5-Coder-1.5B Q4_K_M via `make_llm`, "
          f"n_ctx {r['n_ctx']}, n_threads {r['n_threads']}, n_batch {r['n_batch']}, max_tokens {r['max_tokens']}, "
          f"top_k {r['top_k']} passages; model load {_fmt(r['model_load_s'], 1)} s. For each question: "
          "`Answerer.stream` (the pipeline: retrieve → prompt → LangChain chat model → verify), then raw "
          "`Llama.create_chat_completion` on the **identical** messages and sampling arguments (captured from the "
          "pipeline's own call). The KV cache is reset before each run so neither reuses the other's prompt. "
          f"{_contention(r)}.", ""]
    rows = []
    for q in r["questions"]:
        if q.get("note"):
            rows.append([q["question"], "–", "–", "–", "–", "–", "–", "–", "–", q["note"]])
            continue
        pl, rl = q["pipeline_llama"], q["raw_llama"]
        rows.append([q["question"] + ("" if not q.get("refused") else " *(refused)*"),
                     f"{pl['prompt_tokens']}+{pl['decode_tokens']}", q["pipeline_total_s"],
                     q["raw_total_s"], f"{_fmt(q['pipeline_over_raw'], 2)}×", q["ttft_s"], _fmt(rl["prompt_ms"] / 1000, 2),
                     f"{_fmt(q.get('pipeline_prompt_tps'), 1)} / {_fmt(q.get('raw_prompt_tps'), 1)}",
                     f"{_fmt(q.get('pipeline_decode_tps'), 1)} / {_fmt(q.get('raw_decode_tps'), 1)}",
                     "same text" if q.get("same_text") else "texts differ"])
    md += _table(["question", "prompt+decode tokens", "pipeline s", "raw s", "pipeline/raw", "TTFT (stream) s",
                  "raw prompt eval s", "prompt tok/s pipe / raw", "decode tok/s pipe / raw", "output"], rows)
    md += ["", "Token rates are llama.cpp's own counters (`llama_perf_context`) for each run; 'raw prompt eval' is the "
           "floor for time to first token. Run order alternates per question (pipeline first, then raw first) because "
           "the machine is shared; differences of ±10-15% between the two runs are drift, not pipeline cost — the "
           "pipeline's own costs are in the next table.", ""]
    probe = r.get("decode_probe")
    if probe:
        md += [f"Decode speed on a fixed-length output (raw `create_completion`, {probe['tokens']} tokens with end-of-text "
               f"banned): **{_fmt(probe['decode_tps'], 1)} tokens/s**. Answers above are short, so their decode rates are "
               "based on few tokens.", ""]
    rows = []
    for q in r["questions"]:
        if q.get("note"):
            continue
        t = q.get("pipeline_timings_ms", {})
        rows.append([q["question"], _fmt(t.get("retrieve_ms"), 0), _fmt(1000 * (q.get("pre_llm_s") or 0), 0),
                     _fmt(1000 * (q["ttft_s"] - (q.get("pre_llm_s") or 0)), 0),
                     _fmt(q.get("pipeline_prompt_tps_wall"), 1), _fmt(q.get("pipeline_decode_tps_wall"), 1),
                     _fmt((q.get("verify_ms") or {}).get("p50"), 2), _fmt((q.get("finish_ms") or {}).get("p50"), 2)])
    md += _table(["question", "retrieve ms", "start → model call ms", "model call → first token ms",
                  "prompt tok/s (wall)", "decode tok/s (wall)", "verify_answer ms (p50)", "Answerer.finish ms (p50)"], rows)
    rows = [[q["question"], _fmt(q.get("pipeline_non_model_s"), 3), _fmt(q.get("raw_non_model_s"), 3),
             _fmt(q.get("pipeline_overhead_s"), 3)] for q in r["questions"] if not q.get("note")]
    if rows and all(q.get("pipeline_overhead_s") is not None for q in r["questions"] if not q.get("note")):
        md += ["", "Pipeline cost independent of how fast the model ran: wall time minus llama.cpp's own prompt+decode "
               "time, for each run. The difference is what the pipeline adds (retrieval, prompt building, LangChain "
               "streaming, citation check)."]
        md += [""] + _table(["question", "pipeline: non-model s", "raw: non-model s", "pipeline adds s"], rows)
    md += ["", "Citation check: `rag.verify.verify_answer` on the generated text against the shown passages, and the whole "
           "`Answerer.finish` (verify + render + citations), each repeated 50× on that answer.", ""]
    errs = [q.get("finish_error") for q in r["questions"] if q.get("finish_error")]
    if errs:
        md += [f"`Answerer.finish` could not be timed: `{errs[0]}`", ""]
    qs = [q for q in r["questions"] if not q.get("note")]
    if qs:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(8, 4.2))
        idx = range(len(qs))
        w = 0.38
        ax.bar([i - w / 2 for i in idx], [q["pipeline_total_s"] for q in qs], w, label="pipeline (Answerer.stream)",
               color="#c44e52")
        ax.bar([i + w / 2 for i in idx], [q["raw_total_s"] for q in qs], w, label="raw create_chat_completion",
               color="#4c72b0")
        ax.scatter([i - w / 2 for i in idx], [q["ttft_s"] for q in qs], color="black", zorder=3, marker="_", s=400,
                   label="pipeline time to first token")
        ax.set_xticks(list(idx))
        ax.set_xticklabels([f"Q{i + 1}" for i in idx])
        ax.set_ylabel("seconds")
        ax.set_title("Answer time: pipeline vs raw llama-cpp-python (identical messages)")
        ax.legend(fontsize=8)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        _footer(fig, entry)
        fig.savefig(out / "generation.png", dpi=110)
        plt.close(fig)
        md += ["![pipeline vs raw](generation.png)", ""]
    return md


def _latency(entry: dict[str, Any], out: Path) -> list[str]:
    r = entry["result"]
    names = list(r["configs"])
    qs = r["questions"]

    def med(name: str, key: str, sub: str | None = None) -> Any:
        vals = []
        for q in qs:
            v = q[name].get(sub, {}).get(key) if sub else q[name].get(key)
            if v is not None:
                vals.append(v)
        vals.sort()
        return vals[len(vals) // 2] if vals else None

    md = [f"{len(qs)} questions from {r.get('question_source', 'the seed evals')}, warm, the bundled model on "
          f"{r['n_threads']} threads. Each question runs once per configuration, the order alternating, the KV cache "
          "kept between calls as in a running chat (a prefix shared with the previous call, such as the fixed "
          "instructions, is read once: prompt tokens read < prompt tokens). First token: question received → first "
          "generated token; verified: → the checked, cited answer. Raw reference: llama.cpp reading the same prompt "
          "from an empty cache. Configurations: "
          + "; ".join(f"**{n}** `{c or 'defaults'}`" for n, c in r["configs"].items()) + f". {_contention(r)}.", ""]
    rows = []
    for n in names:
        rows.append([n, _fmt(med(n, "first_token_ms"), 0), _fmt(med(n, "total_ms"), 0), _fmt(med(n, "prompt_tokens"), 0),
                     _fmt(med(n, "prompt_eval_tokens"), 0), _fmt(med(n, "prompt_tps"), 1), _fmt(med(n, "prompt_tps", "raw"), 1),
                     _fmt(med(n, "decode_tokens"), 0), sum(1 for q in qs if q[n].get("refused"))])
    md += _table(["configuration", "first token ms (median)", "verified ms (median)", "prompt tokens", "prompt tokens read",
                  "prompt tok/s pipeline", "prompt tok/s raw (same prompt)", "decode tokens", "refused"], rows)
    md += ["", "Per question:", ""]
    rows = [[q["question"]] + [f"{_fmt(q[n].get('first_token_ms'), 0)} / {_fmt(q[n].get('total_ms'), 0)} "
                               f"({q[n].get('prompt_tokens', '–')} tok)" for n in names] for q in qs]
    md += _table(["question"] + [f"{n}: first token / verified ms (prompt tokens)" for n in names], rows)
    return md + [""]


def _memory(entry: dict[str, Any], out: Path) -> list[str]:
    r = entry["result"]
    chat = r["chat"]
    md = ["Peak RSS is the kernel's high-water mark (`ru_maxrss` / VmHWM) of a fresh process. The GGUF is memory-mapped, "
          "so part of the RSS is file-backed page cache (RssFile) that the kernel can drop and share between processes; "
          "RssAnon is the process's own memory.", ""]
    rows = []
    for phase, v in chat["phases"].items():
        rows.append([phase.replace("_", " "), v.get("VmRSS"), v.get("RssAnon"), v.get("RssFile"), v.get("VmHWM")])
    md += [f"**`rag chat`-like process** (open the seed store, load the model, answer one question in "
           f"{_fmt(chat['answer_s'], 1)} s): peak RSS **{_fmt(chat['peak_rss_mib'], 0)} MiB**"
           + (f", USS {_fmt(chat.get('uss_mib'), 0)} MiB, PSS {_fmt(chat.get('pss_mib'), 0)} MiB at the end" if chat.get("uss_mib") else "")
           + f". {_contention(chat)}.", ""]
    md += _table(["after", "RSS MiB", "anon MiB", "file MiB", "peak so far MiB"], rows)
    md.append("")
    big = r.get("ingest_largest") or {}
    if big:
        how = ("through the real Ingestor" if big.get("mode") == "ingestor" else
               "from the embedded pool with precomputed vectors (`store.add_documents(..., embeddings=...)`, no encoding of the "
               "new chunks; the encoder is loaded all the same: the section warms it up first)")
        md.append(f"**Ingesting the largest scale** ({_fmt(big.get('chunks'))} chunks, {how}; source: "
                  f"{r.get('ingest_largest_source')}): peak RSS after the build **{_fmt(big.get('peak_rss_build_mib'), 0)} MiB**, "
                  f"{_fmt(big.get('ingest_s'), 0)} s, {_fmt(big.get('disk_mib'), 0)} MiB on disk.")
    real = r.get("ingest_real_largest")
    if real:
        md.append(f"Through the real Ingestor (embedding every chunk) at {_fmt(real.get('chunks'))} chunks: peak RSS "
                  f"{_fmt(real.get('peak_rss_build_mib'), 0)} MiB.")
    md.append("")
    return md


def _briefing(entry: dict[str, Any], out: Path) -> list[str]:
    r = entry["result"]
    md = [f"`Briefer(answerer).briefing(None)` — what `rag brief --all` runs — over the seed store ({r['documents']} "
          f"documents), in-process, model already loaded ({_fmt(r['model_load_s'], 1)} s to load, not counted). "
          f"{_contention(r)}.", ""]
    md += _table(["wall s", "LLM calls", "in the model s", "other s", "prompt tokens", "decode tokens", "bullets",
                  "sources cited"],
                 [[r["wall_s"], r["llm_calls"], r["llm_s"], r["other_s"], r["prompt_tokens"], r["decode_tokens"],
                   r["bullets"], r["citations"]]])
    rate = lambda tok, ms: _fmt(tok / (ms / 1000), 1) if ms else "–"  # noqa: E731
    md += ["", f"Prompt tokens count only tokens actually evaluated (successive calls reuse the KV cache for a shared "
           f"prompt prefix, as in the CLI): {rate(r['prompt_tokens'], r['prompt_ms'])} prompt tokens/s, "
           f"{rate(r['decode_tokens'], r['decode_ms'])} decode tokens/s over the whole briefing.", ""]
    steps = r.get("progress") or []
    if steps:
        ends = [t for t, _ in steps[1:]] + [r["wall_s"]]
        md += ["Steps: " + "; ".join(f"{m.split('] ')[-1]} {_fmt(e - t, 0)} s" for (t, m), e in zip(steps, ends)) + ".", ""]
    return md


TITLES = {"ingest": "1. Ingest throughput", "retrieval": "2. Retrieval latency at scale",
          "generation": "3. Generation: pipeline vs raw llama-cpp-python", "latency": "3b. Answer latency",
          "memory": "4. Memory",
          "briefing": "5. Briefing (`rag brief --all`)"}
RENDER = {"ingest": _ingest, "retrieval": _retrieval, "generation": _generation, "latency": _latency, "memory": _memory,
          "briefing": _briefing}


def headline(results: dict[str, Any]) -> str:
    """A few lines of the most important figures."""
    s = results.get("sections", {})
    lines = ["Headline figures:"]
    try:
        r = s["ingest"]["result"]
        lines.append(f"- ingest: {r['ingest_chunks_per_s']} chunks/s through Ingestor vs {r['raw_chunks_per_s']} raw "
                     f"encoder ({r['raw_over_ingest']}x)")
        best = max((v for v in r["encoders"]["variants"] if (v["cos_mean"] or 0) >= 0.985),
                   key=lambda v: v["chunks_per_s"], default=None)
        if best:
            lines.append(f"- fastest encoder with cosine >= 0.985: {best['label']}: {best['speedup_vs_fp32']}x, "
                         f"cos {best['cos_mean']}")
    except (KeyError, TypeError):
        pass
    try:
        for sc in sorted(s["retrieval"]["result"]["scales"], key=lambda x: x["chunks"]):
            L = sc["latency_ms"]
            lines.append(f"- retrieval @{sc['chunks']:,}: fused p50 {L['fused']['p50']} / p95 {L['fused']['p95']} ms; "
                         f"dense search p50 {L['dense_search']['p50']} ms; BM25 p50 {L['bm25']['p50']} ms"
                         + (" (fused needed a paged Store.get)" if sc.get("fused_error") else ""))
    except (KeyError, TypeError):
        pass
    try:
        qs = [q for q in s["generation"]["result"]["questions"] if not q.get("note")]
        lines.append("- generation pipeline/raw: " + ", ".join(f"{q['pipeline_over_raw']}x" for q in qs)
                     + "; TTFT " + ", ".join(f"{q['ttft_s']}s" for q in qs))
    except (KeyError, TypeError):
        pass
    try:
        r = s["latency"]["result"]
        for n in r["configs"]:
            vals = sorted(q[n]["first_token_ms"] for q in r["questions"] if q[n].get("first_token_ms") is not None)
            tot = sorted(q[n]["total_ms"] for q in r["questions"] if q[n].get("total_ms") is not None)
            lines.append(f"- answer latency, {n}: median first token {vals[len(vals) // 2] / 1000:.2f} s, "
                         f"verified {tot[len(tot) // 2] / 1000:.2f} s")
    except (KeyError, TypeError, IndexError):
        pass
    try:
        m = s["memory"]["result"]
        lines.append(f"- memory: chat process peak RSS {m['chat']['peak_rss_mib']} MiB; largest ingest peak "
                     f"{m['ingest_largest']['peak_rss_build_mib']} MiB")
    except (KeyError, TypeError):
        pass
    try:
        b = s["briefing"]["result"]
        lines.append(f"- briefing --all: {b['wall_s']} s ({b['llm_calls']} LLM calls)")
    except (KeyError, TypeError):
        pass
    return "\n".join(lines)


def render(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sections = results.get("sections", {})
    last = results.get("last_run") or {}
    md = ["# Benchmarks", "",
          "Figures, not pass/fail tests. Regenerate with `make bench` (all sections, ~20-25 min) or a subset, e.g. "
          "`.venv/bin/python benchmarks/run.py --only ingest,retrieval --scales 1000,10000` (other sections keep their "
          "previous figures). Every section states the machine and date it was measured on. The machine is shared "
          "(other processes may run on the same 2 cores), so each section also records the load average and how much "
          "CPU the benchmark process actually got; treat figures from a loaded machine as lower bounds.", ""]
    if last:
        md += [f"Last run: {last.get('date')} ({', '.join(last.get('sections', []))}; {_fmt(last.get('wall_s'), 0)} s) on "
               f"{machine_line(last.get('machine', {}))}.", ""]
        m = last.get("machine", {})
        md += _table(["machine", ""], [[k, _fmt(v)] for k, v in m.items()])
        md.append("")
    md += ["```", headline(results), "```", ""]
    for name in ("ingest", "retrieval", "generation", "latency", "memory", "briefing"):
        entry = sections.get(name)
        if not entry:
            continue
        md += [f"## {TITLES[name]}", "", f"_Measured on {_stamp(entry)}; section wall time {_fmt(entry.get('wall_s'), 0)} s._", ""]
        if entry.get("error"):
            md += [f"**Not measured**: `{entry['error']}`", ""]
            continue
        try:
            md += RENDER[name](entry, out)
        except Exception as exc:  # a rendering bug must not lose the JSON figures
            md += [f"(could not render this section: `{type(exc).__name__}: {exc}`; see results.json)", ""]
    (out / "results.md").write_text("\n".join(md).rstrip() + "\n")
