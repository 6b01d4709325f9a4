"""Scoring of answers and briefings against hand-written expected facts (evals/questions.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EVALS = Path(__file__).resolve().parent
QUESTIONS_FILE = EVALS / "questions.yaml"
KINDS = ("single_fact", "temporal", "multi_doc", "numeric", "quote", "unanswerable", "false_premise")
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class Corpus:
    """An eval corpus: a folder of documents and the question files written for it."""

    name: str
    docs: Path
    question_files: tuple[Path, ...]


def corpora() -> dict[str, Corpus]:
    """The seed corpus (the product's seeds/, questions in evals/) and every evals/corpora/NAME/
    holding docs/ and questions.yaml."""
    found = {"seeds": Corpus("seeds", EVALS.parent / "seeds",
                             tuple(p for p in (QUESTIONS_FILE, EVALS / "seed_test_questions.yaml") if p.exists()))}
    for folder in sorted((EVALS / "corpora").glob("*/")):
        if (folder / "docs").is_dir() and (folder / "questions.yaml").is_file():
            found[folder.name] = Corpus(folder.name, folder / "docs", (folder / "questions.yaml",))
    return found


def load_tasks(path: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Questions and briefing tasks of every corpus (or of one file), each tagged with its corpus and split."""
    files = [("seeds", path)] if path else [(c.name, f) for c in corpora().values() for f in c.question_files]
    data: dict[str, list[dict[str, Any]]] = {"questions": [], "briefings": []}
    for corpus, file in files:
        part = yaml.safe_load(file.read_text(encoding="utf-8"))
        for key in ("questions", "briefings"):
            for task in part.get(key) or []:
                if key == "questions" and task["kind"] not in KINDS:
                    raise ValueError(f"{file.name}: {task['id']}: unknown kind {task['kind']}")
                if task.get("split") not in SPLITS:
                    raise ValueError(f"{file.name}: {task['id']}: split must be one of {SPLITS}")
                data[key].append(dict(task, corpus=corpus))
    return data


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").replace("\u00a0", " ").split())


def missing_facts(text: str, facts: list[list[str]]) -> list[str]:
    """Facts (by their first surface form) none of whose acceptable forms appears in ``text``."""
    t = _norm(text)
    return [forms[0] for forms in facts if not any(_norm(f) in t for f in forms)]


def forbidden_found(text: str, forbidden: list[str] | None) -> list[str]:
    t = _norm(text)
    return [f for f in forbidden or [] if _norm(f) in t]


@dataclass
class QuestionScore:
    id: str
    kind: str
    passed: bool
    refused: bool
    missing: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    cited_sources: list[str] = field(default_factory=list)
    expected_sources: list[str] = field(default_factory=list)
    retrieved_sources: list[str] = field(default_factory=list)
    seconds: float = 0.0
    answer: str = ""
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    # citation support: answer sentences that carry a citation, and how many of them an independent
    # check (embedding similarity, see test_questions.sentence_support) found supported by their passage
    cited_sentences: int = 0
    supported_sentences: int = 0
    # how much the verifier had to do: the model's own sentences, and how many it dropped
    raw_sentences: int = 0
    raw_dropped: int = 0
    corpus: str = "seeds"
    split: str = "dev"

    @property
    def answerable(self) -> bool:
        return self.kind not in ("unanswerable", "false_premise")

    @property
    def cites_expected(self) -> bool:
        return bool(set(self.cited_sources) & set(self.expected_sources))

    @property
    def retrieval_recall(self) -> float:
        if not self.expected_sources:
            return 1.0
        return len(set(self.expected_sources) & set(self.retrieved_sources)) / len(set(self.expected_sources))


def score_answer(task: dict[str, Any], answer: str, refused: bool, cited_sources: list[str] | None = None,
                 retrieved_sources: list[str] | None = None, seconds: float = 0.0) -> QuestionScore:
    """Pass rules: unanswerable → refused; false premise → correcting facts present, nothing forbidden
    (a refusal that states the correction counts); otherwise → not refused, all facts, nothing forbidden."""
    kind = task["kind"]
    missing = missing_facts(answer, task.get("facts") or [])
    bad = forbidden_found(answer, task.get("forbidden"))
    if kind == "unanswerable":
        passed = refused
    elif kind == "false_premise":
        passed = not missing and not bad
    else:
        passed = not refused and not missing and not bad
    return QuestionScore(task["id"], kind, passed, refused, missing, bad, sorted(set(cited_sources or [])),
                         list(task.get("sources") or []), sorted(set(retrieved_sources or [])), seconds, answer,
                         corpus=task.get("corpus", "seeds"), split=task.get("split", "dev"))


@dataclass
class BriefingScore:
    id: str
    mode: str
    passed: bool
    missing: list[str]
    forbidden: list[str]
    cited_sources: list[str]
    expected_sources: list[str]
    seconds: float
    bullets: int
    facts: int = 0  # expected facts of the task
    corpus: str = "seeds"
    split: str = "dev"

    @property
    def fact_recall(self) -> float:
        """Share of the task's expected facts the briefing states."""
        return 1.0 - len(self.missing) / self.facts if self.facts else 1.0

    @property
    def source_coverage(self) -> float:
        if not self.expected_sources:
            return 1.0
        return len(set(self.expected_sources) & set(self.cited_sources)) / len(set(self.expected_sources))


def briefing_body(markdown: str) -> str:
    """The briefing without its Sources section (titles there must not count as stated facts)."""
    return markdown.split("\n## Sources", 1)[0]


def score_briefing(task: dict[str, Any], markdown: str, cited_sources: list[str], seconds: float, bullets: int) -> BriefingScore:
    body = briefing_body(markdown)
    missing = missing_facts(body, task.get("facts") or [])
    bad = forbidden_found(body, task.get("forbidden"))
    return BriefingScore(task["id"], task["mode"], not missing and not bad, missing, bad, sorted(set(cited_sources)),
                         list(task.get("sources") or []), seconds, bullets, len(task.get("facts") or []),
                         corpus=task.get("corpus", "seeds"), split=task.get("split", "dev"))


def aggregate(scores: list[QuestionScore]) -> dict[str, Any]:
    """The headline figures of a question run."""
    def rate(xs: list[bool]) -> float:
        return round(sum(xs) / len(xs), 3) if xs else 0.0

    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if s.kind == "unanswerable"]
    with_sources = [s for s in scores if s.expected_sources and not s.refused]
    figures: dict[str, Any] = {
        "questions": len(scores),
        "fact_pass_rate": rate([s.passed for s in scores]),
        "per_kind": {k: rate([s.passed for s in scores if s.kind == k]) for k in KINDS if any(s.kind == k for s in scores)},
        "refusal_accuracy": rate([s.refused for s in unanswerable] + [not s.refused for s in answerable]),
        "unanswerable_refused": rate([s.refused for s in unanswerable]),
        "answerable_refused": rate([s.refused for s in answerable]),
        "citation_validity": rate([s.cites_expected for s in with_sources]),
        "retrieval_recall": round(sum(s.retrieval_recall for s in scores if s.expected_sources)
                                  / max(1, sum(1 for s in scores if s.expected_sources)), 3),
        "citation_support": round(sum(s.supported_sentences for s in scores)
                                  / max(1, sum(s.cited_sentences for s in scores)), 3),
        "raw_sentences_dropped": round(sum(s.raw_dropped for s in scores) / max(1, sum(s.raw_sentences for s in scores)), 3),
        "retrieve_ms_mean": round(sum(s.retrieve_ms for s in scores) / max(1, len(scores)), 1),
        "generate_ms_mean": round(sum(s.generate_ms for s in scores) / max(1, len(scores)), 1),
        "seconds_total": round(sum(s.seconds for s in scores), 1),
        "seconds_mean": round(sum(s.seconds for s in scores) / max(1, len(scores)), 2),
    }
    return figures


def _corpus_split(item: Any) -> tuple[str, str]:
    return (item["corpus"], item["split"]) if isinstance(item, dict) else (item.corpus, item.split)


def groups(scores: list[Any]) -> dict[str, list[Any]]:
    """Scores (or dict records with "corpus" and "split", such as labelled verifier cases) by
    ``corpus/split`` (e.g. ``seeds/dev``), in a stable order, for side-by-side figures."""
    out: dict[str, list[Any]] = {}
    keyed = [(_corpus_split(s), s) for s in scores]
    for (corpus, split), s in sorted(keyed, key=lambda cs: (cs[0][0] != "seeds", cs[0][0], SPLITS.index(cs[0][1]))):
        out.setdefault(f"{corpus}/{split}", []).append(s)
    return out


def briefing_figures(scores: list[BriefingScore]) -> dict[str, Any]:
    """The headline figures of a briefing run."""
    n = max(1, len(scores))
    return {
        "briefings": len(scores),
        "pass_rate": round(sum(s.passed for s in scores) / n, 3),
        "fact_recall": round(sum(s.fact_recall for s in scores) / n, 3),
        "forbidden_found": sum(len(s.forbidden) for s in scores),
        "source_coverage": round(sum(s.source_coverage for s in scores) / n, 3),
        "seconds_mean": round(sum(s.seconds for s in scores) / n, 1),
    }
