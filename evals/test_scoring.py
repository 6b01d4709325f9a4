"""Unit tests of the scorer itself (no model)."""
from scoring import aggregate, load_tasks, missing_facts, score_answer, score_briefing

TASK = {"id": "t", "kind": "single_fact", "facts": [["Makei", "Makey"], ["2020"]], "forbidden": ["Ryzhenkov"],
        "sources": ["001.txt"]}


def test_matching_answer_passes():
    s = score_answer(TASK, "Lavrov met Vladimir Makey in Minsk in November 2020 [1].", refused=False, cited_sources=["001.txt"])
    assert s.passed and s.cites_expected and not s.missing


def test_missing_fact_fails():
    s = score_answer(TASK, "Lavrov met Vladimir Makei in Minsk [1].", refused=False)
    assert not s.passed and s.missing == ["2020"]


def test_forbidden_string_fails():
    s = score_answer(TASK, "Lavrov met Makei and Ryzhenkov in 2020.", refused=False)
    assert not s.passed and s.forbidden == ["Ryzhenkov"]


def test_refusal_fails_an_answerable_question_and_passes_an_unanswerable_one():
    assert not score_answer(TASK, "The documents do not say. Makei 2020", refused=True).passed
    assert score_answer({"id": "u", "kind": "unanswerable", "facts": []}, "The documents do not say.", refused=True).passed
    assert not score_answer({"id": "u", "kind": "unanswerable", "facts": []}, "He ate soup.", refused=False).passed


def test_false_premise_needs_the_correction():
    task = {"id": "f", "kind": "false_premise", "facts": [["Ryzhenkov"]]}
    assert score_answer(task, "No: in Brest Lavrov met Ryzhenkov [1].", refused=False).passed
    assert not score_answer(task, "He met Makei to talk about security [1].", refused=False).passed


def test_case_and_apostrophes_are_normalised():
    assert missing_facts("LAVROV’S visit", [["lavrov's"]]) == []


def test_briefing_sources_section_does_not_count():
    md = "# Briefing\n\n- Lavrov met someone [1].\n\n## Sources\n\n1. Makei visit — 2020 — a.txt\n"
    s = score_briefing({"id": "b", "mode": "topic", "facts": [["Makei"]]}, md, ["a.txt"], 1.0, 1)
    assert not s.passed and s.missing == ["Makei"]


def test_aggregate_figures():
    scores = [score_answer(TASK, "Makei 2020", False, ["001.txt"], ["001.txt"]),
              score_answer({"id": "u", "kind": "unanswerable", "facts": []}, "The documents do not say.", True)]
    figs = aggregate(scores)
    assert figs["fact_pass_rate"] == 1.0 and figs["refusal_accuracy"] == 1.0 and figs["citation_validity"] == 1.0


def test_question_file_is_well_formed():
    data = load_tasks()
    ids = [q["id"] for q in data["questions"]] + [b["id"] for b in data["briefings"]]
    assert len(ids) == len(set(ids)) and len(data["questions"]) >= 40 and len(data["briefings"]) >= 5
    kinds = {q["kind"] for q in data["questions"]}
    assert kinds == {"single_fact", "temporal", "multi_doc", "numeric", "quote", "unanswerable", "false_premise"}


def test_citation_support_and_latency_figures_aggregate_over_answers():
    a = score_answer(TASK, "Makei 2020 [1].", refused=False)
    a.cited_sentences, a.supported_sentences, a.retrieve_ms, a.generate_ms = 2, 1, 10.0, 1000.0
    b = score_answer(TASK, "Makei 2020 [1].", refused=False)
    b.cited_sentences, b.supported_sentences, b.retrieve_ms, b.generate_ms = 2, 2, 30.0, 3000.0
    b.raw_sentences, b.raw_dropped = 4, 1
    fig = aggregate([a, b])
    assert fig["citation_support"] == 0.75
    assert fig["raw_sentences_dropped"] == 0.25
    assert (fig["retrieve_ms_mean"], fig["generate_ms_mean"]) == (20.0, 2000.0)
