"""Question-answering evals with the real default model: floors on the aggregate figures.

Floors are set from measured runs (see evals/report.md history) and only ever raised; a single
flaky question cannot fail the run, a fall in an aggregate does.
"""
from __future__ import annotations

import time

import pytest
from harness import RESULTS, log
from scoring import aggregate, score_answer

pytestmark = pytest.mark.model

FLOORS = {
    "fact_pass_rate": 0.0,
    "refusal_accuracy": 0.0,
    "citation_validity": 0.0,
    "retrieval_recall": 0.0,
}


@pytest.fixture(scope="module")
def question_scores(answerer, tasks, eval_settings):
    RESULTS["settings"] = eval_settings
    scores = []
    questions = tasks["questions"]
    for i, task in enumerate(questions, start=1):
        t = time.perf_counter()
        ans = answerer.run(task["question"])
        seconds = time.perf_counter() - t
        s = score_answer(task, ans.answer, ans.refused, [c.source for c in ans.citations],
                         [p.meta.get("source") for p in ans.passages], seconds)
        scores.append(s)
        log(f"[eval {i}/{len(questions)}] {task['id']} {'PASS' if s.passed else 'FAIL'} {seconds:.1f}s  {ans.answer[:120]!r}")
    RESULTS["questions"] = scores
    return scores


@pytest.mark.parametrize("figure", sorted(FLOORS))
def test_aggregate_floor(question_scores, figure):
    if not question_scores:
        pytest.skip("no questions selected")
    value = aggregate(question_scores)[figure]
    assert value >= FLOORS[figure], f"{figure} fell to {value} (floor {FLOORS[figure]})"


def test_every_kind_is_measured(question_scores, tasks):
    if len(tasks["questions"]) < 40:
        pytest.skip("subset run (EVAL_IDS)")
    assert set(aggregate(question_scores)["per_kind"]) == {
        "single_fact", "temporal", "multi_doc", "numeric", "quote", "unanswerable", "false_premise"}
