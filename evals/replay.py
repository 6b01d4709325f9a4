"""Replay: re-verify an eval run's raw answers with the current verifier, without the model.

``pytest evals/test_questions.py`` writes every question's raw model text and the passages it was
shown to ``evals/artifacts/answers.jsonl``. A change to grounding (rag/verify.py, the refusal and
quote rules of ``Answerer.finish``) does not change what the model is asked, so its effect on the
question evals can be measured in seconds instead of a 20-minute run: retrieval and the premise
check are re-run (they never touch the model), each question's passages are checked against the
recorded ones, and the recorded raw text goes through ``Answerer.finish`` again.

    .venv/bin/python evals/replay.py                       # figures per corpus/split, and flips
    .venv/bin/python evals/replay.py --answers run.jsonl --save now.json --against before.json

Only for changes after generation: a change to prompts, retrieval or the model needs a real run
(a question whose passages differ from the recorded ones is reported and left out).
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

EVALS = Path(__file__).resolve().parent
sys.path.insert(0, str(EVALS))
sys.path.insert(0, str(EVALS.parent))

from rag.config import Settings, offline_environment  # noqa: E402

offline_environment()

from scoring import QuestionScore, aggregate, corpora, groups, load_tasks, score_answer  # noqa: E402


def _answerers(store_root: Path):
    """corpus name -> Answerer over a store of that corpus (built on first use) with a model that
    must never be called: replay only verifies."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from ingest.pipeline import Ingestor
    from rag.answer import Answerer
    from rag.store import Store

    made: dict[str, Answerer] = {}

    def get(corpus: str) -> Answerer:
        if corpus not in made:
            settings = Settings.from_env(store_dir=store_root / corpus, chroma_url="")
            report = Ingestor(Store(settings), settings).run([corpora()[corpus].docs], progress=False)
            if not report.ok:
                raise click.ClickException(f"ingest of {corpus} failed: {report.errors}")
            made[corpus] = Answerer(Store(settings), FakeListChatModel(responses=[]), settings)
        return made[corpus]

    return get


def replay(rows: list[dict], store_root: Path) -> tuple[list[QuestionScore], list[dict], list[str]]:
    """(scores, one result per replayed row, ids left out because retrieval differs from the run's)."""
    from rag.answer import evidence_text

    tasks = {(t["corpus"], t["id"]): t for t in load_tasks()["questions"]}
    answerer = _answerers(store_root)
    scores, results, skipped = [], [], []
    for row in rows:
        task = tasks.get((row["corpus"], row["qid"]))
        if task is None:
            skipped.append(row["qid"])
            continue
        a = answerer(row["corpus"])
        retrieval = a.retrieve(task["question"])
        passages = retrieval.passages
        shown = {str(n): evidence_text(n, p) for n, p in enumerate(passages, start=1)}
        if shown != row["evidence"]:
            skipped.append(row["qid"])
            continue
        if not row["raw"]:  # refused before generation (nothing close enough): nothing to re-verify
            text, refused, cited = row["answer"], True, []
        else:
            res = a.finish(task["question"], task["question"], row["raw"], passages, {},
                           conflict=a.premise_check(task["question"]))
            text, refused, cited = res.answer, res.refused, [c.source for c in res.citations]
        s = score_answer(task, text, refused, cited, [p.meta.get("source") for p in passages], 0.0)
        scores.append(s)
        results.append({"qid": row["qid"], "corpus": row["corpus"], "split": task["split"], "passed": s.passed,
                        "refused": refused, "answer": text})
    return scores, results, skipped


@click.command()
@click.option("--answers", "answers_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=EVALS / "artifacts" / "answers.jsonl", show_default=True, help="a run's answers.jsonl")
@click.option("--store-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where the corpora's stores are kept between replays (default: a temporary directory)")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="write the replayed results here (JSON)")
@click.option("--against", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="results saved by an earlier replay: list the questions whose answer or pass mark changed")
def main(answers_file: Path, store_dir: Path | None, save: Path | None, against: Path | None) -> None:
    rows = [json.loads(line) for line in answers_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        scores, results, skipped = replay(rows, store_dir or Path(tmp))
    for group, items in sorted(groups(scores).items()):
        f = aggregate(items)
        click.echo(f"{group:12s} n={len(items):3d}  fact_pass {f['fact_pass_rate']:.3f}  answerable_refused "
                   f"{f['answerable_refused']:.3f}  unanswerable_refused {f['unanswerable_refused']:.3f}  "
                   f"citation_validity {f['citation_validity']:.3f}")
    if skipped:
        click.echo(f"left out (passages differ from the run's, or the question is gone): {', '.join(skipped)}")
    if save:
        save.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    if against:
        before = {(r["corpus"], r["qid"]): r for r in json.loads(against.read_text(encoding="utf-8"))}
        for r in results:
            b = before.get((r["corpus"], r["qid"]))
            if b and (b["passed"], b["answer"]) != (r["passed"], r["answer"]):
                mark = "GAIN" if r["passed"] > b["passed"] else "LOSS" if r["passed"] < b["passed"] else "same"
                click.echo(f"{mark} {r['corpus']}/{r['split']} {r['qid']}: {r['answer'][:200]!r}")


if __name__ == "__main__":
    main()
