"""Eval session: one store built from seeds/ in a temp dir, one model, every question run once.

Figures are printed as a table at the end of the run and written to evals/report.md and
evals/report.json (to evals/artifacts/ instead when EVAL_IDS selects a subset).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import pytest

EVALS = Path(__file__).resolve().parent
ROOT = EVALS.parent
sys.path.insert(0, str(EVALS))

from rag.config import Settings, offline_environment  # noqa: E402

offline_environment()  # the eval session is an entry point: before anything imports chromadb, HF or the model

from scoring import SPLITS, aggregate, briefing_figures, corpora, groups, load_tasks  # noqa: E402

from harness import CONFIG, RESULTS  # noqa: E402


def _selected(items: list[dict]) -> list[dict]:
    """EVAL_IDS (comma-separated ids), EVAL_CORPORA (names) and EVAL_SPLIT (dev|test) select a subset."""
    ids, names, split = (os.environ.get(k) for k in ("EVAL_IDS", "EVAL_CORPORA", "EVAL_SPLIT"))
    if ids:
        items = [t for t in items if t["id"] in set(ids.split(","))]
    if names:
        items = [t for t in items if t["corpus"] in set(names.split(","))]
    if split:
        items = [t for t in items if t["split"] == split]
    return items


def subset_run() -> bool:
    return any(os.environ.get(k) for k in ("EVAL_IDS", "EVAL_CORPORA", "EVAL_SPLIT"))


@pytest.fixture(scope="session")
def tasks() -> dict[str, list[dict]]:
    data = load_tasks()
    return {"questions": _selected(data["questions"]), "briefings": _selected(data["briefings"])}


@pytest.fixture(scope="session")
def followups() -> list[dict]:
    """The follow-up rewrite items (evals/followups.yaml), EVAL_* selection applied."""
    import yaml

    items = yaml.safe_load((EVALS / "followups.yaml").read_text(encoding="utf-8"))["followups"]
    for item in items:
        if item.get("split") not in SPLITS or item.get("corpus") not in corpora():
            raise ValueError(f"followups.yaml: {item.get('id')}: corpus must be one of {sorted(corpora())}, "
                             f"split one of {SPLITS}")
    return _selected(items)


@pytest.fixture(scope="session")
def eval_settings(tmp_path_factory):
    """corpus name -> Settings of a store built from that corpus's documents (built on first use)."""
    from ingest.pipeline import Ingestor
    from rag.store import Store

    RESULTS["t0"] = time.perf_counter()  # the eval run starts here (tests/ may have run before it)
    built: dict[str, Settings] = {}

    def settings_for(corpus: str) -> Settings:
        if corpus not in built:
            settings = Settings.from_env(store_dir=tmp_path_factory.mktemp(f"evalstore-{corpus}"), chroma_url="")
            report = Ingestor(Store(settings), settings).run([corpora()[corpus].docs], progress=False)
            assert report.ok, report.errors
            built[corpus] = settings
            RESULTS["settings"] = settings
        return built[corpus]

    return settings_for


@pytest.fixture(scope="session")
def answerer(eval_settings):
    """corpus name -> Answerer over that corpus's store (rag.answer.build_answerer); one model shared by all."""
    from rag.answer import Answerer, build_answerer
    from rag.llm import make_llm

    made: dict[str, Answerer] = {}
    llm: list = []

    def answerer_for(corpus: str) -> Answerer:
        if corpus not in made:
            settings = eval_settings(corpus)
            if not llm:
                t = time.perf_counter()
                llm.append(make_llm(settings=settings))
                RESULTS["model_load_s"] = round(time.perf_counter() - t, 1)
            made[corpus] = build_answerer(settings, llm=llm[0])
        return made[corpus]

    return answerer_for


def pytest_configure(config):
    CONFIG[:] = [config]


def _config(settings: Settings) -> dict:
    cfg = {k: str(v) for k, v in dataclasses.asdict(settings).items() if k not in ("store_dir",)}
    prompts = sorted((ROOT / "prompts").glob("*.md"))
    cfg["prompts_sha256"] = hashlib.sha256(b"".join(p.read_bytes() for p in prompts)).hexdigest()[:12]
    cfg["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return cfg


_Q_FIGURES = ("questions", "fact_pass_rate", "refusal_accuracy", "unanswerable_refused", "answerable_refused",
              "citation_validity", "citation_support", "raw_sentences_dropped", "retrieval_recall",
              "retrieve_ms_mean", "generate_ms_mean", "seconds_mean")
_B_FIGURES = ("briefings", "pass_rate", "fact_recall", "forbidden_found", "source_coverage", "seconds_mean")


def _side_by_side(by_group: dict[str, dict], names: tuple[str, ...], per_kind: bool = False) -> list[str]:
    """One row per figure, one column per corpus/split."""
    cols = list(by_group)
    lines = ["| figure | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for k in names:
        lines.append(f"| {k} | " + " | ".join(str(by_group[c].get(k, "")) for c in cols) + " |")
    if per_kind:
        for kind in ("single_fact", "temporal", "multi_doc", "numeric", "quote", "unanswerable", "false_premise"):
            lines.append(f"| pass: {kind} | " + " | ".join(str(by_group[c]["per_kind"].get(kind, "–")) for c in cols) + " |")
    return lines


def _markdown(report: dict) -> str:
    lines = [f"# Eval report", "", f"Run {report['date']} on {report['config']['machine']}; LLM `{report['config']['llm']}`; "
             f"whole run {report['wall_s'] / 60:.1f} min (model load {report['model_load_s']} s).", "",
             "Every question and briefing task is tagged `dev` (rules and thresholds are tuned on it) or `test` "
             "(judged only); figures per corpus and split, side by side.", ""]
    q = report.get("questions_figures")
    if q:
        lines += ["## Questions", ""] + _side_by_side(report["questions_by_group"], _Q_FIGURES, per_kind=True)
        lines += ["", "Definitions: *fact_pass_rate* all expected facts present and nothing forbidden (unanswerable: refused); "
                  "*citation_validity* non-refused answers citing at least one expected source document; "
                  "*citation_support* share of cited answer sentences whose cited passage holds a sentence with "
                  "embedding cosine >= 0.6 to it (MiniLM; independent of the verifier's lexical check); "
                  "*raw_sentences_dropped* share of the model's sentences the verifier dropped as unsupported; "
                  "*retrieval_recall* expected documents among the retrieved passages (k = top_k).",
                  "", f"All questions together: fact pass {q['fact_pass_rate']}, answerable refused {q['answerable_refused']}, "
                  f"unanswerable refused {q['unanswerable_refused']}, {q['seconds_mean']} s per question."]
        lines += ["", "### Per question", "", "| id | corpus/split | kind | pass | refused | missing | forbidden | cited | s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for s in report["questions"]:
            lines.append(f"| {s['id']} | {s['corpus']}/{s['split']} | {s['kind']} | {'✓' if s['passed'] else '✗'} | {s['refused']} | "
                         f"{', '.join(s['missing'])} | {', '.join(s['forbidden'])} | {', '.join(x[:3] for x in s['cited_sources'])} | "
                         f"{s['seconds']:.1f} |")
        fails = [s for s in report["questions"] if not s["passed"]]
        if fails:
            lines += ["", "### Failed answers", ""]
            lines += [f"- **{s['id']}** ({s['corpus']}/{s['split']}, {s['kind']}): {s['answer'][:300]}" for s in fails]
    v = report.get("verifier")
    if v:
        lines += ["", "## Verifier as a classifier", "",
                  f"Hand-labelled (answer sentence, passages shown, supported?) cases from real model outputs "
                  f"(`evals/verifier_cases.jsonl`). Positive = the verifier keeps the sentence as written "
                  f"(a sentence it cuts a detail from counts as dropped).", ""]
        lines += _side_by_side(v, ("cases", "supported", "precision", "recall", "false_keeps", "false_drops", "cut"))
    f = report.get("followups")
    if f:
        lines += ["", "## Follow-up rewrites", "",
                  "Chat follow-ups that point back into the conversation (evals/followups.yaml), rewritten into a "
                  "standalone question before retrieval (prompts/condense.md); a rewrite passes when it is a question "
                  "naming what the follow-up points back to.", ""]
        lines += _side_by_side(f["by_group"], ("items", "pass_rate"))
        lines += ["", "| id | corpus/split | pass | missing | rewrite |", "|---|---|---|---|---|"]
        lines += [f"| {r['id']} | {r['corpus']}/{r['split']} | {'✓' if r['passed'] else '✗'} | {', '.join(r['missing'])} | "
                  f"{r['rewrite'].replace('|', '/')[:160]} |" for r in f["items"]]
    b = report.get("briefings")
    if b:
        lines += ["", "## Briefings", ""] + _side_by_side(report["briefings_by_group"], _B_FIGURES)
        lines += ["", "| id | corpus/split | mode | pass | missing | forbidden | source coverage | bullets | s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for s in b:
            lines.append(f"| {s['id']} | {s['corpus']}/{s['split']} | {s['mode']} | {'✓' if s['passed'] else '✗'} | "
                         f"{', '.join(s['missing'])} | {', '.join(s['forbidden'])} | {s['source_coverage']:.2f} | "
                         f"{s['bullets']} | {s['seconds']:.0f} |")
    lines += ["", "## Configuration", "", "```json", json.dumps(report["config"], indent=1), "```", ""]
    return "\n".join(lines)


def pytest_sessionfinish(session, exitstatus):
    if not any(k in RESULTS for k in ("questions", "briefings", "followups")):
        return
    settings = RESULTS.get("settings")
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "config": _config(settings) if settings else {}, "model_load_s": RESULTS.get("model_load_s"),
                    "wall_s": round(time.perf_counter() - RESULTS.get("t0", time.perf_counter()), 1)}
    if "questions" in RESULTS:
        scores = RESULTS["questions"]
        report["questions_figures"] = aggregate(scores)
        report["questions_by_group"] = {g: aggregate(ss) for g, ss in groups(scores).items()}
        report["questions"] = [dict(dataclasses.asdict(s), cites_expected=s.cites_expected) for s in scores]
    if "verifier" in RESULTS:
        report["verifier"] = RESULTS["verifier"]
    if "followups" in RESULTS:
        report["followups"] = RESULTS["followups"]
    if "briefings" in RESULTS:
        bs = RESULTS["briefings"]
        report["briefings"] = [dict(dataclasses.asdict(s), source_coverage=s.source_coverage, fact_recall=s.fact_recall) for s in bs]
        report["briefings_figures"] = briefing_figures(bs)
        report["briefings_by_group"] = {g: briefing_figures(ss) for g, ss in groups(bs).items()}
    RESULTS["report"] = report
    full = not subset_run() and "questions" in RESULTS and "briefings" in RESULTS
    out = EVALS if full else EVALS / "artifacts"
    out.mkdir(exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(_markdown(report), encoding="utf-8")
    RESULTS["report_path"] = str(out / "report.md")
    if full:
        _update_readme(report)


README_START, README_END = "<!-- eval-figures:start -->", "<!-- eval-figures:end -->"


def _readme_figures(report: dict) -> str:
    q, b = report["questions_by_group"], report["briefings_by_group"]
    lines = [f"Run {report['date']}, {report['config']['machine']}, LLM `{report['config']['llm']}`; whole eval run "
             f"{report['wall_s'] / 60:.1f} min (full table: [evals/report.md](evals/report.md)).", ""]
    lines += _side_by_side(q, ("questions", "fact_pass_rate", "answerable_refused", "unanswerable_refused",
                               "citation_validity", "retrieval_recall", "seconds_mean"))
    if report.get("verifier"):
        lines += ["", "Verifier on the hand-labelled sentences:", ""]
        lines += _side_by_side(report["verifier"], ("cases", "precision", "recall"))
    if report.get("followups"):
        lines += ["", "Chat follow-ups rewritten into standalone questions:", ""]
        lines += _side_by_side(report["followups"]["by_group"], ("items", "pass_rate"))
    lines += ["", "Briefings:", ""] + _side_by_side(b, ("briefings", "fact_recall", "forbidden_found", "source_coverage", "seconds_mean"))
    return "\n".join(lines)


def _update_readme(report: dict) -> None:
    """A full run keeps the README's figures block in step with evals/report.md."""
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return
    block = f"{README_START}\n{_readme_figures(report)}\n{README_END}"
    readme.write_text(text[:start] + block + text[end + len(README_END):], encoding="utf-8")


def pytest_terminal_summary(terminalreporter):
    report = RESULTS.get("report")
    if not report:
        return
    tr = terminalreporter
    tr.section("eval results")
    for s in report.get("questions", []):
        tr.write_line(f"{s['id']:5} {s['kind']:13} {'PASS' if s['passed'] else 'FAIL'} refused={str(s['refused']):5} "
                      f"missing={','.join(s['missing']) or '-':20} forbidden={','.join(s['forbidden']) or '-':10} "
                      f"cited={','.join(x[:3] for x in s['cited_sources']) or '-':12} {s['seconds']:5.1f}s")
    for g, figs in report.get("questions_by_group", {}).items():
        tr.write_line(f"{g}: {json.dumps(figs)}")
    if report.get("verifier"):
        tr.write_line(f"verifier: {json.dumps(report['verifier'])}")
    for s in report.get("briefings", []):
        tr.write_line(f"{s['id']:5} {s['mode']:9} {'PASS' if s['passed'] else 'FAIL'} missing={','.join(s['missing']) or '-'} "
                      f"forbidden={','.join(s['forbidden']) or '-'} coverage={s['source_coverage']:.2f} {s['seconds']:.0f}s")
    for g, figs in report.get("briefings_by_group", {}).items():
        tr.write_line(f"briefings {g}: {json.dumps(figs)}")
    for g, figs in (report.get("followups") or {}).get("by_group", {}).items():
        tr.write_line(f"follow-ups {g}: {json.dumps(figs)}")
    tr.write_line(f"report written to {RESULTS.get('report_path')}")
