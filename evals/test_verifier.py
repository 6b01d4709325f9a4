"""The verifier as a classifier: precision and recall on hand-labelled answer sentences.

``evals/verifier_cases.jsonl`` holds one case a line: a sentence the real model wrote (with its
``[n]`` marks), the question, the passages it was shown (number -> header and text, exactly what
the verifier judges against) and a hand label: ``supported`` is true when everything the sentence
claims is stated by the passages shown. The cases were taken from eval runs on both corpora
(``evals/artifacts/answers.jsonl``, see ``evals/label_cases.py``); ``split`` is the split of the
question the sentence answered, so rules are tuned on dev cases and judged on test cases.

Positive = the verifier keeps the sentence as written (repairing its citation is fine); a sentence
dropped, or kept only after a detail was cut from it, is a negative. So a false keep is an
unsupported sentence kept whole, a false drop a supported sentence dropped or cut.
"""
from __future__ import annotations

import json

import pytest
from harness import RESULTS
from scoring import EVALS, SPLITS, groups

from rag.config import Settings
from rag.verify import verify_answer

CASES_FILE = EVALS / "verifier_cases.jsonl"
# Set from the first measurement on 245 labelled cases (2026-12-01: precision 0.735, recall 0.885, all
# cases), raised with the figures, never lowered. 2026-12-02: 84 cases added (329; sentences from a run
# with sentences_per_passage=2, harder: more invented pairings), precision 0.706, recall 0.88; recall
# floor raised to 0.87, precision kept at 0.70. 2026-12-02 (later): fractions as one number, Snowball
# stems, the passage header in every window: precision 0.736, recall 0.901; floors 0.72 / 0.89.
# 2026-12-03: counts bound to what they count, list items as sentences: precision 0.751, recall 0.894
# (`pytest evals/test_verifier.py`; no model needed); precision floor raised to 0.74.
# The aim is 0.9 for both.
FLOORS: dict[str, float] = {"precision": 0.74, "recall": 0.89}


def load_cases() -> list[dict]:
    if not CASES_FILE.exists():
        return []
    return [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def kept_as_written(case: dict, threshold: float) -> tuple[bool, bool]:
    """(kept whole, kept after a cut) for one case, by the product's own verifier, given what the
    product gives it: the question and the shown passages."""
    evidence = {int(n): text for n, text in case["evidence"].items()}
    s = Settings.from_env()
    checked = verify_answer(case["sentence"], evidence, threshold, question=case.get("question", ""),
                            max_cited=s.max_cited, window=s.support_window)
    whole = any(not s.cut for s in checked.sentences if s.citations)
    cut = any(s.cut for s in checked.sentences if s.citations)
    return whole, cut


def classifier_figures(cases: list[dict], threshold: float) -> dict[str, float | int]:
    tp = fp = fn = tn = cut = 0
    for case in cases:
        whole, was_cut = kept_as_written(case, threshold)
        cut += was_cut
        if case["supported"]:
            tp += whole
            fn += not whole
        else:
            fp += whole
            tn += not whole
    return {"cases": len(cases), "supported": tp + fn,
            "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
            "false_keeps": fp, "false_drops": fn, "cut": cut}


@pytest.fixture(scope="module")
def verifier_figures():
    cases = load_cases()
    if not cases:
        pytest.skip(f"no labelled cases in {CASES_FILE.name}")
    threshold = Settings.from_env().support_threshold
    figures = {g: classifier_figures(cs, threshold) for g, cs in groups(cases).items()}
    figures["all"] = classifier_figures(cases, threshold)
    RESULTS["verifier"] = figures
    return figures


def test_labelled_cases_are_well_formed():
    cases = load_cases()
    if not cases:
        pytest.skip(f"no labelled cases in {CASES_FILE.name}")
    for c in cases:
        assert isinstance(c["supported"], bool), c["id"]
        assert c["split"] in SPLITS and c["evidence"] and c["sentence"].strip(), c["id"]
    assert len({c["id"] for c in cases}) == len(cases)


@pytest.mark.parametrize("figure", ["precision", "recall"])
def test_verifier_floor(verifier_figures, figure):
    if figure not in FLOORS:
        pytest.skip(f"no floor set for {figure} yet")
    value = verifier_figures["all"][figure]
    assert value >= FLOORS[figure], f"verifier {figure} fell to {value} (floor {FLOORS[figure]})"
