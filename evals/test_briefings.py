"""Briefing and timeline evals with the real default model."""
from __future__ import annotations

import time

import pytest
from harness import RESULTS, log
from scoring import score_briefing

pytestmark = pytest.mark.model

# Set from the first full run (2026-11-23: fact recall 0.52, source coverage 0.675, pass rate 1/8),
# a margin of about two facts lost below. The pass rate (every fact of a task) is reported, not floored:
# at 1/8 a floor would be 0 and could not fail.
# Raised when briefings chose their documents by BM25 (2026-11-23 run: fact recall 0.68, source coverage
# 0.925): about three facts and one task's sources of margin.
# Raised 2026-12-01 with claim-level grounding (seeds/dev fact recall 0.817, source coverage 0.969).
# Raised 2026-12-02 with quoted sentences filling the room the bullets leave (b02, b03 complete): 0.70 -> 0.75.
FLOORS = {"fact_recall": 0.75, "source_coverage": 0.85}


@pytest.fixture(scope="module")
def briefing_scores(answerer, tasks):
    from rag.brief import Briefer

    scores = []
    for task in tasks["briefings"]:
        briefer = Briefer(answerer(task["corpus"]))
        t = time.perf_counter()
        if task["mode"] == "timeline":
            result = briefer.timeline(task.get("topic"), progress=lambda m: log(f"  [{task['id']}] {m}"))
        else:
            result = briefer.briefing(None if task["mode"] == "all" else task["topic"],
                                      progress=lambda m: log(f"  [{task['id']}] {m}"))
        seconds = time.perf_counter() - t
        s = score_briefing(task, result.markdown, [c.source for c in result.citations], seconds, len(result.bullets))
        scores.append(s)
        log(f"[brief] {task['corpus']}/{task['split']} {task['id']} {'PASS' if s.passed else 'FAIL'} {seconds:.0f}s missing={s.missing}")
    RESULTS["briefings"] = scores
    return scores


def test_briefing_floors(briefing_scores):
    # the floors were measured on the seed corpus's original tasks (now its dev split)
    briefing_scores = [s for s in briefing_scores if s.corpus == "seeds" and s.split == "dev"]
    if not briefing_scores:
        pytest.skip("no seed dev briefings selected")
    recall = sum(s.fact_recall for s in briefing_scores) / len(briefing_scores)
    coverage = sum(s.source_coverage for s in briefing_scores) / len(briefing_scores)
    assert recall >= FLOORS["fact_recall"], f"briefing fact recall fell to {recall:.2f}"
    assert coverage >= FLOORS["source_coverage"], f"source coverage fell to {coverage:.2f}"


def test_every_briefing_cites_its_statements(briefing_scores):
    # every bullet line carries a citation: the verifier drops uncited statements
    for s in briefing_scores:
        assert s.bullets == 0 or s.cited_sources, f"{s.id} has bullets but no sources"
