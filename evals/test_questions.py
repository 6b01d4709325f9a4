"""Question-answering evals with the real default model: floors on the aggregate figures.

Floors are set from measured runs (see evals/report.md history) and only ever raised; a single
flaky question cannot fail the run, a fall in an aggregate does.
"""
from __future__ import annotations

import json
import time

import pytest
from harness import RESULTS, log
from scoring import EVALS, aggregate, groups, score_answer

from rag.answer import evidence_text

from rag.embed import get_embeddings
from rag.verify import citations_in, split_sentences, strip_citations

pytestmark = pytest.mark.model

# Set from the first full run with the embedded model (2026-11-23, evals/report.md history): fact pass
# 0.639, refusal accuracy 0.815, citation validity 0.976, citation support 0.80, retrieval recall 0.972;
# each floor sits about three questions below, so one flaky answer does not fail the run but a fall does.
# Fact pass raised 0.58 -> 0.64 when top_k 4 reached 0.705 (2026-11-23; four questions of margin).
# Raised 2026-12-01 with claim-level grounding (run of 07fb5a1-era code: fact pass 0.787, refusal accuracy
# 0.87, citation validity 1.0): fact pass 0.64 -> 0.70, refusal accuracy 0.75 -> 0.78, validity 0.90 -> 0.93.
# Raised 2026-12-02 with the number/stem/header verifier rules (seeds dev fact pass 0.803): 0.70 -> 0.74.
FLOORS = {
    "fact_pass_rate": 0.74,
    "refusal_accuracy": 0.78,
    "citation_validity": 0.93,
    "citation_support": 0.70,
    "retrieval_recall": 0.92,
}


# Held-out groups (the seed corpus's test split, the second corpus): floors set from their first
# measured run, about two questions below it; raised with the figures, never lowered.
# First measured 2026-12-01 (seeds/test fact pass 0.429, citation validity 1.0, recall 0.972; fomc/dev
# 0.435, 0.833, 0.905; fomc/test 0.522, 0.846, 0.95).
# Raised 2026-12-02 (seeds/test 0.464, fomc/dev 0.435, fomc/test 0.565 with the verifier's number,
# stem and header rules; two questions of margin): 0.35 -> 0.39, 0.34 -> 0.35, 0.43 -> 0.47.
# Raised 2026-12-03 (CI run of 8c61a40: seeds/test 0.5, fomc/test 0.609 with count binding and
# preposition-led question parts; two questions of margin): 0.39 -> 0.42, 0.47 -> 0.52.
GROUP_FLOORS: dict[str, dict[str, float]] = {
    "seeds/test": {"fact_pass_rate": 0.42, "citation_validity": 0.90, "retrieval_recall": 0.90},
    "fomc/dev": {"fact_pass_rate": 0.35, "citation_validity": 0.70, "retrieval_recall": 0.85},
    "fomc/test": {"fact_pass_rate": 0.52, "citation_validity": 0.70, "retrieval_recall": 0.88},
}

SUPPORT_COSINE = 0.6


def sentence_support(answer: str, citations) -> tuple[int, int]:
    """(cited sentences, supported ones): a sentence is supported when one sentence of a passage it
    cites has MiniLM cosine >= SUPPORT_COSINE to it. Independent of rag/verify.py's lexical check, so
    that the figure is not the verifier grading itself."""
    by_n = {c.n: c.text for c in citations}
    cited = supported = 0
    # the judge stays torch fp32 whatever the product's encoder, so the figure compares across runs
    model = get_embeddings("torch-fp32")
    for sent in split_sentences(answer):
        ns = [n for n in citations_in(sent) if n in by_n]
        if not ns:
            continue
        cited += 1
        evidence = [e for n in ns for e in split_sentences(by_n[n]) if e.strip()]
        if not evidence:
            continue
        vecs = model.embed_documents([strip_citations(sent)] + evidence)
        best = max(sum(a * b for a, b in zip(vecs[0], v)) for v in vecs[1:])  # vectors are normalised
        supported += best >= SUPPORT_COSINE
    return cited, supported


@pytest.fixture(scope="module")
def question_scores(answerer, tasks):
    scores = []
    candidates = []  # every sentence the model wrote, with the passages it was shown: verifier cases to label
    questions = tasks["questions"]
    for i, task in enumerate(questions, start=1):
        ans_model = answerer(task["corpus"])
        t = time.perf_counter()
        ans = ans_model.run(task["question"])
        seconds = time.perf_counter() - t
        s = score_answer(task, ans.answer, ans.refused, [c.source for c in ans.citations],
                         [p.meta.get("source") for p in ans.passages], seconds)
        s.retrieve_ms = ans.timings.get("retrieve_ms", 0.0)
        s.generate_ms = ans.timings.get("generate_ms", 0.0)
        s.raw_sentences = len([x for x in split_sentences(ans.raw or "") if x.strip()])
        s.raw_dropped = len(ans.dropped or [])
        if not ans.refused:
            s.cited_sentences, s.supported_sentences = sentence_support(ans.answer, ans.citations)
        scores.append(s)
        candidates.append({"qid": task["id"], "corpus": task["corpus"], "split": task["split"], "question": task["question"],
                           "raw": ans.raw, "answer": ans.answer, "dropped": ans.dropped,
                           "evidence": {str(n): evidence_text(n, p) for n, p in enumerate(ans.passages, start=1)}})
        log(f"[eval {i}/{len(questions)}] {task['corpus']}/{task['split']} {task['id']} {'PASS' if s.passed else 'FAIL'} "
            f"{seconds:.1f}s  {ans.answer[:120]!r}")
    RESULTS["questions"] = scores
    out = EVALS / "artifacts"
    out.mkdir(exist_ok=True)
    with open(out / "answers.jsonl", "w", encoding="utf-8") as fh:
        for c in candidates:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")
    return scores


def _seed_dev(scores):
    """The floors were measured on the seed corpus's original questions (now its dev split)."""
    return [s for s in scores if s.corpus == "seeds" and s.split == "dev"]


@pytest.mark.parametrize("figure", sorted(FLOORS))
def test_aggregate_floor(question_scores, figure):
    scores = _seed_dev(question_scores)
    if not scores:
        pytest.skip("no seed dev questions selected")
    value = aggregate(scores)[figure]
    assert value >= FLOORS[figure], f"seeds/dev {figure} fell to {value} (floor {FLOORS[figure]})"


@pytest.mark.parametrize("group", sorted(GROUP_FLOORS))
def test_held_out_floor(question_scores, group):
    """Floors on the held-out and second-corpus groups, set from measured runs (see GROUP_FLOORS)."""
    scores = groups(question_scores).get(group)
    if not scores or len(scores) < 10:
        pytest.skip(f"{group} not (fully) selected")
    figs = aggregate(scores)
    low = {k: figs[k] for k, floor in GROUP_FLOORS[group].items() if figs[k] < floor}
    assert not low, f"{group} fell below its floors: {low} (floors {GROUP_FLOORS[group]})"


def test_every_kind_is_measured(question_scores, tasks):
    scores = _seed_dev(question_scores)
    if len(scores) < 40:
        pytest.skip("subset run")
    assert set(aggregate(scores)["per_kind"]) == {
        "single_fact", "temporal", "multi_doc", "numeric", "quote", "unanswerable", "false_premise"}
