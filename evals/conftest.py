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

from rag.config import Settings  # noqa: E402
from scoring import aggregate, load_tasks  # noqa: E402

from harness import CONFIG, RESULTS  # noqa: E402


def _selected(items: list[dict]) -> list[dict]:
    ids = os.environ.get("EVAL_IDS")
    if not ids:
        return items
    wanted = set(ids.split(","))
    return [t for t in items if t["id"] in wanted]


@pytest.fixture(scope="session")
def tasks() -> dict[str, list[dict]]:
    data = load_tasks()
    return {"questions": _selected(data["questions"]), "briefings": _selected(data["briefings"])}


@pytest.fixture(scope="session")
def eval_settings(tmp_path_factory) -> Settings:
    from ingest.pipeline import Ingestor
    from rag.store import Store

    RESULTS["t0"] = time.perf_counter()  # the eval run starts here (tests/ may have run before it)
    settings = Settings.from_env(store_dir=tmp_path_factory.mktemp("evalstore"), chroma_url="")
    report = Ingestor(Store(settings), settings).run([ROOT / "seeds"], progress=False)
    assert report.ok, report.errors
    return settings


@pytest.fixture(scope="session")
def answerer(eval_settings):
    from rag.answer import Answerer
    from rag.llm import make_llm
    from rag.store import Store

    t = time.perf_counter()
    llm = make_llm(settings=eval_settings)
    ans = Answerer(Store(eval_settings, create=False), llm, eval_settings)
    RESULTS["model_load_s"] = round(time.perf_counter() - t, 1)
    return ans


def pytest_configure(config):
    CONFIG[:] = [config]


def _config(settings: Settings) -> dict:
    cfg = {k: str(v) for k, v in dataclasses.asdict(settings).items() if k not in ("store_dir",)}
    prompts = sorted((ROOT / "prompts").glob("*.md"))
    cfg["prompts_sha256"] = hashlib.sha256(b"".join(p.read_bytes() for p in prompts)).hexdigest()[:12]
    cfg["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return cfg


def _markdown(report: dict) -> str:
    lines = [f"# Eval report", "", f"Run {report['date']} on {report['config']['machine']}; LLM `{report['config']['llm']}`; "
             f"whole run {report['wall_s'] / 60:.1f} min (model load {report['model_load_s']} s).", ""]
    q = report.get("questions_figures")
    if q:
        lines += ["## Questions", "", "| figure | value |", "|---|---|"]
        for k in ("questions", "fact_pass_rate", "refusal_accuracy", "unanswerable_refused", "answerable_refused",
                  "citation_validity", "citation_support", "raw_sentences_dropped", "retrieval_recall",
                  "retrieve_ms_mean", "generate_ms_mean", "seconds_mean", "seconds_total"):
            if k in q:
                lines.append(f"| {k} | {q[k]} |")
        lines += ["", "Definitions: *fact_pass_rate* all expected facts present and nothing forbidden (unanswerable: refused); "
                  "*citation_validity* non-refused answers citing at least one expected source document; "
                  "*citation_support* share of cited answer sentences whose cited passage holds a sentence with "
                  "embedding cosine >= 0.6 to it (MiniLM; independent of the verifier's lexical check); "
                  "*raw_sentences_dropped* share of the model's sentences the verifier dropped as unsupported; "
                  "*retrieval_recall* expected documents among the retrieved passages (k = top_k)."]
        lines += ["", "| kind | pass rate |", "|---|---|"] + [f"| {k} | {v} |" for k, v in q["per_kind"].items()]
        lines += ["", "### Per question", "", "| id | kind | pass | refused | missing | forbidden | cited | s |", "|---|---|---|---|---|---|---|---|"]
        for s in report["questions"]:
            lines.append(f"| {s['id']} | {s['kind']} | {'✓' if s['passed'] else '✗'} | {s['refused']} | {', '.join(s['missing'])} | "
                         f"{', '.join(s['forbidden'])} | {', '.join(x[:3] for x in s['cited_sources'])} | {s['seconds']:.1f} |")
        fails = [s for s in report["questions"] if not s["passed"]]
        if fails:
            lines += ["", "### Failed answers", ""]
            lines += [f"- **{s['id']}** ({s['kind']}): {s['answer'][:300]}" for s in fails]
    b = report.get("briefings")
    if b:
        lines += ["", "## Briefings", "", "| id | mode | pass | missing | forbidden | source coverage | bullets | s |", "|---|---|---|---|---|---|---|---|"]
        for s in b:
            lines.append(f"| {s['id']} | {s['mode']} | {'✓' if s['passed'] else '✗'} | {', '.join(s['missing'])} | "
                         f"{', '.join(s['forbidden'])} | {s['source_coverage']:.2f} | {s['bullets']} | {s['seconds']:.0f} |")
        lines += ["", f"Briefing pass rate: {report['briefings_figures']['pass_rate']}, mean fact recall "
                      f"{report['briefings_figures']['fact_recall']}, mean source coverage "
                      f"{report['briefings_figures']['source_coverage']}, mean time {report['briefings_figures']['seconds_mean']} s."]
    lines += ["", "## Configuration", "", "```json", json.dumps(report["config"], indent=1), "```", ""]
    return "\n".join(lines)


def pytest_sessionfinish(session, exitstatus):
    if "questions" not in RESULTS and "briefings" not in RESULTS:
        return
    settings = RESULTS.get("settings")
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "config": _config(settings) if settings else {}, "model_load_s": RESULTS.get("model_load_s"),
                    "wall_s": round(time.perf_counter() - RESULTS.get("t0", time.perf_counter()), 1)}
    if "questions" in RESULTS:
        scores = RESULTS["questions"]
        report["questions_figures"] = aggregate(scores)
        report["questions"] = [dict(dataclasses.asdict(s), cites_expected=s.cites_expected) for s in scores]
    if "briefings" in RESULTS:
        bs = RESULTS["briefings"]
        report["briefings"] = [dict(dataclasses.asdict(s), source_coverage=s.source_coverage, fact_recall=s.fact_recall) for s in bs]
        report["briefings_figures"] = {
            "pass_rate": round(sum(s.passed for s in bs) / max(1, len(bs)), 3),
            "fact_recall": round(sum(s.fact_recall for s in bs) / max(1, len(bs)), 3),
            "source_coverage": round(sum(s.source_coverage for s in bs) / max(1, len(bs)), 3),
            "seconds_mean": round(sum(s.seconds for s in bs) / max(1, len(bs)), 1),
        }
    RESULTS["report"] = report
    full = not os.environ.get("EVAL_IDS") and "questions" in RESULTS and "briefings" in RESULTS
    out = EVALS if full else EVALS / "artifacts"
    out.mkdir(exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(_markdown(report), encoding="utf-8")
    RESULTS["report_path"] = str(out / "report.md")
    if full:
        _update_readme(report)


README_START, README_END = "<!-- eval-figures:start -->", "<!-- eval-figures:end -->"


def _readme_figures(report: dict) -> str:
    q, b = report["questions_figures"], report["briefings_figures"]
    kinds = ", ".join(f"{k} {v}" for k, v in q["per_kind"].items())
    return "\n".join([
        f"Run {report['date']}, {report['config']['machine']}, LLM `{report['config']['llm']}` "
        f"(full table: [evals/report.md](evals/report.md)).",
        "",
        "| figure | value |", "|---|---|",
        f"| questions | {q['questions']} |",
        f"| fact pass rate | {q['fact_pass_rate']} ({kinds}) |",
        f"| refusal accuracy | {q['refusal_accuracy']} |",
        f"| citation validity / support | {q['citation_validity']} / {q['citation_support']} |",
        f"| retrieval recall@{report['config'].get('top_k', 'k')} | {q['retrieval_recall']} |",
        f"| mean retrieval / generation per question | {q['retrieve_ms_mean']} ms / {q['generate_ms_mean']} ms |",
        f"| briefings: pass rate / fact recall / source coverage / mean time | {b['pass_rate']} / {b['fact_recall']} / "
        f"{b['source_coverage']} / {b['seconds_mean']} s |",
        f"| whole eval run (store build, model load, {q['questions']} questions, {len(report['briefings'])} briefings) | {report['wall_s'] / 60:.1f} min |",
    ])


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
    if "questions_figures" in report:
        tr.write_line(json.dumps(report["questions_figures"]))
    for s in report.get("briefings", []):
        tr.write_line(f"{s['id']:5} {s['mode']:9} {'PASS' if s['passed'] else 'FAIL'} missing={','.join(s['missing']) or '-'} "
                      f"forbidden={','.join(s['forbidden']) or '-'} coverage={s['source_coverage']:.2f} {s['seconds']:.0f}s")
    if "briefings_figures" in report:
        tr.write_line(json.dumps(report["briefings_figures"]))
    tr.write_line(f"report written to {RESULTS.get('report_path')}")
