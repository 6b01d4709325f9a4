"""Load: 20 clients ask at once through the app's API (gradio_client on loopback).

Each client is its own gradio session and carries its own marker in its chat history. The fake
model echoes every marker it is sent: the condense step puts the history's markers into the
standalone question, and the answer names the markers of that question. A request answered with
another session's history (or a prompt mixing two sessions) therefore shows a wrong or a second
marker in the answer. Throughput and latency are printed and written to tests/artifacts/load.json.
"""
from __future__ import annotations

import gc
import json
import re
import statistics
import threading
import time
import uuid
from pathlib import Path

import pytest
from fakes import QueuedChatModel
from pydantic import Field
from rel_helpers import LAVROV_SEED, ROOT, free_port

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),  # inside gradio's queue
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

CLIENTS = 20
MARKER = re.compile(r"session-\d{2}-[0-9a-f]{6}")
ARTIFACTS = ROOT / "tests" / "artifacts"


class EchoModel(QueuedChatModel):
    """Replies built from the session markers in what it is sent; ``calls`` logs (step, markers)."""

    answers: list[str] = Field(default_factory=lambda: [""])
    calls: list[tuple[str, list[str]]] = Field(default_factory=list)

    def _next(self, messages) -> str:
        system = str(messages[0].content)
        text = "\n".join(str(m.content) for m in messages)
        if system.startswith("Rewrite the user's last question"):
            found = sorted(set(MARKER.findall(text)))
            self.calls.append(("condense", found))
            return f"Where did Lavrov meet Maxim Ryzhenkov, as asked in {' and '.join(found) or 'no session'}?"
        found = sorted(set(MARKER.findall(text.rsplit("Question:", 1)[-1])))
        self.calls.append(("answer", found))
        # a cited, supported sentence, then a refusal sentence (kept by the verifier without a citation)
        return (f"Lavrov met Maxim Ryzhenkov in Brest [1]. "
                f"The documents do not say what {' and '.join(found) or 'nothing'} refers to.")


def vm_rss() -> int:
    """Resident memory of this process (the server runs in it), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def test_twenty_concurrent_sessions(seed_settings):
    from gradio_client import Client

    from rag.answer import Answerer
    from rag.app import build_app, launch
    from rag.store import Store

    llm = EchoModel()
    store = Store(seed_settings, create=False)
    app = build_app(seed_settings, answerer_factory=lambda: Answerer(store, llm, seed_settings))
    _, url, _ = launch(app, seed_settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        clients = [Client(url, verbose=False, download_files=False) for _ in range(CLIENTS)]
        # warm-up (model handles, embedder, BM25 index), so the memory baseline holds them
        warm = clients[0].predict("Who did Lavrov meet in Brest?", "[]", api_name="/ask")
        assert warm["citations"], warm
        del llm.calls[:]
        gc.collect()
        rss_before = vm_rss()

        markers = [f"session-{i:02d}-{uuid.uuid4().hex[:6]}" for i in range(CLIENTS)]
        results: list[dict | BaseException | None] = [None] * CLIENTS
        spans: list[tuple[float, float]] = [(0.0, 0.0)] * CLIENTS
        start = threading.Barrier(CLIENTS)
        peak = [rss_before]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.05):
                peak[0] = max(peak[0], vm_rss())

        def ask(i: int) -> None:
            history = [{"role": "user", "content": f"Remember my reference {markers[i]}. Who is Maxim Ryzhenkov?"},
                       {"role": "assistant", "content": "Belarus's foreign minister [1]."}]
            start.wait(30)
            t0 = time.perf_counter()
            try:
                job = clients[i].submit("Where did they meet?", json.dumps(history), api_name="/ask")
                results[i] = job.result(timeout=120)
            except BaseException as exc:  # reported below, per client
                results[i] = exc
            spans[i] = (t0, time.perf_counter())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        sampling.set()
        sampler.join(5)
        gc.collect()
        rss_after = vm_rss()
    finally:
        app.close()

    errors = {i: r for i, r in enumerate(results) if not isinstance(r, dict)}
    assert not errors, f"unanswered: {errors}"
    for i, out in enumerate(results):
        assert out["question"] == "Where did they meet?"
        assert not out["refused"], out
        assert MARKER.findall(out["answer"]) == [markers[i]], f"client {i} ({markers[i]}) got: {out['answer']}"
        assert LAVROV_SEED in {c["source"] for c in out["citations"]}
    # the model saw each session's history once, alone, and each answer prompt held one session's question
    assert sorted(step for step, _ in llm.calls) == ["answer"] * CLIENTS + ["condense"] * CLIENTS
    assert all(len(found) == 1 for _, found in llm.calls), [c for c in llm.calls if len(c[1]) != 1]
    for step in ("condense", "answer"):
        assert sorted(f[0] for s, f in llm.calls if s == step) == sorted(markers)

    latencies = [b - a for a, b in spans]
    wall = max(b for _, b in spans) - min(a for a, _ in spans)
    figures = {
        "clients": CLIENTS,
        "wall_s": round(wall, 3),
        "questions_per_s": round(CLIENTS / wall, 2),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p95_s": round(percentile(latencies, 0.95), 3),
        "latency_max_s": round(max(latencies), 3),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_peak_mb": round(peak[0] / 2**20, 1),
        "rss_after_mb": round(rss_after / 2**20, 1),
        "rss_growth_mb": round((rss_after - rss_before) / 2**20, 1),
        "note": "fake chat model (no generation time): retrieval, verification and gradio's queue; "
                "/ask runs one request at a time (concurrency_limit=1)",
    }
    print("\nload:", json.dumps(figures, indent=1))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    # 20 answers hold a few KB each; 300 MB of growth would mean per-request state is kept (a leak)
    assert rss_after - rss_before < 300 * 2**20, figures
    assert wall < 60, figures
