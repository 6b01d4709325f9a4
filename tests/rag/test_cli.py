"""The ``rag`` command line through click's CliRunner: real stores on disk, a fake chat model.

Every command runs in-process with the RAG_* variables of the calling shell removed, so only
the arguments configure it. Commands that need the language model choose a fake one the way a
user chooses a model, with ``--llm``: ``fake:TEXT`` for a canned reply, or ``recorded`` (registered
by the ``fake_llm`` fixture) where a test counts models or reads prompts, so no GGUF is ever loaded.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from fakes import QueuedChatModel


ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
SEED_SOURCES = [
    "000_e3a7af6ccd77722d.txt",
    "001_f63a187ba6a0d519.txt",
    "002_e0b109478491a41f.txt",
    "003_303e7899af01f908.txt",
    "004_d4300b7bd3a6ac4d.txt",
]
BREST = "000_e3a7af6ccd77722d.txt"
BREST_TITLE = "Lavrov Visit to Belarus Underlines Common Unity in Belarus-Russia Union State"
BREST_ANSWER = "Lavrov met Maxim Ryzhenkov in Brest [1]."
SUMMARY = re.compile(r"^(\d+) documents: (\d+) chunks added, (\d+) unchanged, (\d+) removed; (\d+) errors$")


@pytest.fixture
def fake_llm():
    """``made = fake_llm("answer 1", "answer 2")`` registers the model ``--llm recorded`` (through
    ``rag.llm.register_llm``, the plugin hook): every model built from it is a new QueuedChatModel
    with those answers, appended to ``made``, that keeps the prompts it was sent. Tests that only
    need a canned reply pass ``--llm fake:TEXT`` instead, as a user would."""
    from rag.llm import register_llm

    unregister: list = []

    def install(*answers: str) -> list[QueuedChatModel]:
        made: list[QueuedChatModel] = []

        def build(arg: str, settings) -> QueuedChatModel:
            made.append(QueuedChatModel(answers=list(answers)))
            return made[-1]

        unregister.append(register_llm("recorded", build))
        return made

    yield install
    for remove in unregister:
        remove()


def no_traceback(result) -> None:
    """The command ended through sys.exit / click, not through an uncaught exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def sources_json(cli, store) -> list[dict]:
    result = cli("sources", "--json", "--store", store)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in lines(result.stdout)]


# --- ingest


def test_ingest_summary_bad_files_and_rerun(cli, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in (BREST, "002_e0b109478491a41f.txt"):
        shutil.copy(SEEDS / name, docs / name)
    (docs / "empty.txt").write_text("", encoding="utf-8")
    (docs / "tool.exe").write_bytes(b"MZ\x90\x00 not a document")
    store = tmp_path / "store"

    result = cli("ingest", docs, "--store", store)  # with the progress bar: it must stay off stdout
    no_traceback(result)
    assert result.exit_code == 1
    out = lines(result.stdout)
    assert len(out) == 1, result.stdout  # stdout holds the summary line only
    m = SUMMARY.match(out[0])
    assert m, out[0]
    n_docs, added, unchanged, removed, errors = map(int, m.groups())
    assert (n_docs, unchanged, removed, errors) == (2, 0, 0, 2)
    assert added > 0
    # one line per bad file on stderr, naming the file and the reason
    err = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(err) == 2, result.stderr
    empty = next(line for line in err if "empty.txt" in line)
    exe = next(line for line in err if "tool.exe" in line)
    assert "empty file" in empty
    assert "unsupported file type .exe" in exe
    # the good files were ingested anyway
    rows = sources_json(cli, store)
    assert [r["source"] for r in rows] == [BREST, "002_e0b109478491a41f.txt"]
    assert sum(r["chunks"] for r in rows) == added

    again = cli("ingest", docs, "--store", store, "--quiet")
    assert again.exit_code == 1
    assert lines(again.stdout) == [f"2 documents: 0 chunks added, {added} unchanged, 0 removed; 2 errors"]


def test_ingest_again_into_seed_store_adds_nothing(cli, store_copy):
    total = sum(r["chunks"] for r in sources_json(cli, store_copy))
    result = cli("ingest", SEEDS, "--store", store_copy, "--quiet")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [f"5 documents: 0 chunks added, {total} unchanged, 0 removed; 0 errors"]
    assert result.stderr == ""


def test_ingest_missing_path_is_an_error_line(cli, tmp_path):
    result = cli("ingest", tmp_path / "nowhere", "--store", tmp_path / "store", "--quiet")
    no_traceback(result)
    assert result.exit_code == 1
    assert lines(result.stdout) == ["0 documents: 0 chunks added, 0 unchanged, 0 removed; 1 errors"]
    assert "nowhere: no such file or directory" in result.stderr


# --- sources


def test_sources_lists_the_five_seeds(cli, seed_store_dir):
    result = cli("sources", "--store", seed_store_dir)
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in lines(result.stdout)]
    assert [r[0] for r in rows] == SEED_SOURCES
    by_source = {r[0]: r for r in rows}
    assert by_source[BREST][1:] == [BREST_TITLE, "22 November (year unknown)", "5 chunks"]
    assert by_source["001_f63a187ba6a0d519.txt"][2] == "26 November 2020"
    assert by_source["004_d4300b7bd3a6ac4d.txt"][2] == "no date"
    for r in rows:
        assert len(r) == 4 and r[1] and re.fullmatch(r"\d+ chunks", r[3]) and int(r[3].split()[0]) > 0


def test_sources_json(cli, seed_store_dir):
    rows = sources_json(cli, seed_store_dir)
    assert [r["source"] for r in rows] == SEED_SOURCES
    for r in rows:
        assert set(r) == {"source", "title", "date", "chunks"}
        assert r["title"] and isinstance(r["chunks"], int) and r["chunks"] > 0
    by_source = {r["source"]: r for r in rows}
    assert by_source[BREST]["title"] == BREST_TITLE
    assert by_source[BREST]["date"] == "--11-22"  # month and day known, year unknown
    assert by_source["002_e0b109478491a41f.txt"]["date"] == "2023-01-12"
    assert by_source["004_d4300b7bd3a6ac4d.txt"]["date"] is None


def test_sources_on_missing_store(cli, tmp_path):
    result = cli("sources", "--store", tmp_path / "nowhere")
    no_traceback(result)
    assert result.exit_code != 0
    assert "no store at" in result.stderr and "rag ingest" in result.stderr
    assert not (tmp_path / "nowhere").exists()  # looking does not create a store


# --- remove


def test_remove_unknown_source_then_a_real_one(cli, store_copy):
    result = cli("remove", "nope.txt", "--store", store_copy)
    no_traceback(result)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "no document named 'nope.txt'" in result.stderr
    assert BREST in result.stderr  # tells what is stored
    assert len(sources_json(cli, store_copy)) == 5

    result = cli("remove", BREST, "--store", store_copy)
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [f"removed {BREST}: 5 chunks"]
    assert [r["source"] for r in sources_json(cli, store_copy)] == SEED_SOURCES[1:]

    again = cli("remove", BREST, "--store", store_copy)
    assert again.exit_code != 0 and "no document named" in again.stderr


# --- ask


def test_ask_json_batch_from_stdin(cli, fake_llm, seed_store_dir):
    made = fake_llm(BREST_ANSWER)
    questions = ["Who did Lavrov meet in Brest?", "Where did Lavrov meet Maxim Ryzhenkov?"]
    result = cli("ask", "--llm", "recorded", "--json", "--store", seed_store_dir, input=f"{questions[0]}\n\n{questions[1]}\n")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert len(out) == 2, result.stdout  # exactly one JSON line per question, nothing else
    answers = [json.loads(line) for line in out]
    assert len(made) == 1  # one model for the whole batch
    assert len(made[0].prompts) == 2
    for q, a in zip(questions, answers):
        assert set(a) == {"question", "answer", "refused", "citations", "timings"}
        assert a["question"] == q
        assert a["answer"] == BREST_ANSWER
        assert a["refused"] is False
        assert set(a["timings"]) == {"retrieve_ms", "generate_ms", "first_token_ms", "verify_ms", "total_ms"}
        assert all(isinstance(v, (int, float)) and v >= 0 for v in a["timings"].values())
        assert len(a["citations"]) == 1
        c = a["citations"][0]
        assert set(c) == {"n", "source", "title", "date", "chunk_id", "text", "page", "page_end"}
        assert c["page"] is None and c["page_end"] is None  # a .txt has no pages
        assert c["n"] == 1
        assert c["source"] == BREST
        assert c["title"] == BREST_TITLE
        assert c["date"] == "--11-22"
        assert c["chunk_id"] and "Ryzhenkov" in c["text"]


def test_ask_plain_prints_answer_then_sources(cli, seed_store_dir):
    result = cli("ask", "--llm", f"fake:{BREST_ANSWER}", "--store", seed_store_dir, "Who did Lavrov meet in Brest?")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0] == BREST_ANSWER
    cites = [line for line in out if re.match(r"^\[\d+\] ", line)]
    assert cites == [f"[1] {BREST_TITLE} — 22 November (year unknown) — {BREST}"]
    assert out.index(cites[0]) > 0
    assert any("Ryzhenkov" in line and line.startswith("    ") for line in out)  # the cited passage, indented


def test_ask_json_cites_the_pdf_page_of_the_fact(cli, pdf_store_dir):
    from pdfs import REPORT_FACT_ANSWER, REPORT_QUESTION

    result = cli("ask", "--llm", f"fake:{REPORT_FACT_ANSWER}", "--json", "--store", pdf_store_dir, REPORT_QUESTION)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    data = json.loads(line)
    assert data["answer"] == REPORT_FACT_ANSWER
    (c,) = data["citations"]
    assert c["source"] == "water_report.pdf" and "Olga Varenik" in c["text"]
    assert c["page"] == 3 and c["page_end"] is None


def test_ask_plain_shows_the_pdf_page(cli, pdf_store_dir):
    from pdfs import REPORT_FACT_ANSWER, REPORT_QUESTION

    result = cli("ask", "--llm", f"fake:{REPORT_FACT_ANSWER}", "--store", pdf_store_dir, REPORT_QUESTION)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    cites = [line for line in result.stdout.splitlines() if re.match(r"^\[\d+\] ", line)]
    assert cites == ["[1] Regional Water Board Annual Report — no date — water_report.pdf — p. 3"]


def test_ask_markdown_prints_question_answer_and_quoted_sources(cli, seed_store_dir):
    result = cli("ask", "--llm", f"fake:{BREST_ANSWER}", "--markdown", "--store", seed_store_dir, "Who did Lavrov meet in Brest?")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.startswith("## Who did Lavrov meet in Brest?\n\nLavrov met Maxim Ryzhenkov in Brest [1].\n\n### Sources\n")
    entry = f"- **[1]** {BREST_TITLE} — 22 November (year unknown) — `{BREST}`"
    assert md.count(entry) == 1 and md.count("- **[") == 1
    quoted = md.split(entry, 1)[1]
    assert re.search(r"^  > .*Ryzhenkov", quoted, re.M), md  # the cited passage, as a blockquote in the entry
    assert " p. " not in md  # a .txt has no pages


def test_ask_markdown_of_a_pdf_answer_shows_the_page_and_reads_stdin(cli, pdf_store_dir):
    from pdfs import REPORT_FACT_ANSWER, REPORT_QUESTION

    result = cli("ask", "--llm", f"fake:{REPORT_FACT_ANSWER}", "--markdown", "--store", pdf_store_dir, input=f"{REPORT_QUESTION}\n{REPORT_QUESTION}\n")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.count(f"## {REPORT_QUESTION}\n") == 2 and md.count("### Sources") == 2
    assert md.count("- **[1]** Regional Water Board Annual Report — no date — `water_report.pdf` — p. 3\n") == 2
    assert "  > Dams and reservoirs were inspected as the law requires." in md
    assert "\n\n## " in md  # the answers are separated by a blank line


def test_ask_json_and_markdown_together_is_a_usage_error(cli, fake_llm, seed_store_dir):
    made = fake_llm(BREST_ANSWER)
    result = cli("ask", "--llm", "recorded", "--json", "--markdown", "--store", seed_store_dir, "Who did Lavrov meet in Brest?")
    no_traceback(result)
    assert result.exit_code == 2 and "--json and --markdown" in result.stderr
    assert made == []


@pytest.mark.parametrize(("command", "argument"), [("ask", "QUESTION"), ("brief", "TOPIC")])
def test_missing_question_or_topic_is_a_usage_error(cli, fake_llm, seed_store_dir, command, argument):
    made = fake_llm(BREST_ANSWER)
    result = cli(command, "--llm", "recorded", "--store", seed_store_dir)
    no_traceback(result)
    assert result.exit_code == 2
    assert argument in result.stderr
    assert made == []


def test_ask_on_missing_store(cli, fake_llm, tmp_path):
    made = fake_llm(BREST_ANSWER)
    result = cli("ask", "--llm", "recorded", "--store", tmp_path / "nowhere", "Who did Lavrov meet in Brest?")
    no_traceback(result)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "rag ingest" in result.stderr
    assert made == []


def test_ask_on_empty_store(cli, fake_llm, tmp_path):
    made = fake_llm(BREST_ANSWER)
    store = tmp_path / "store"
    store.mkdir()
    for args in (["Who did Lavrov meet in Brest?"], ["--json"]):
        result = cli("ask", "--llm", "recorded", "--store", store, *args, input="Who did Lavrov meet in Brest?\n")
        no_traceback(result)
        assert result.exit_code != 0
        assert result.stdout == ""
        assert "empty" in result.stderr and "rag ingest" in result.stderr
    assert made == []  # the model is not even built


@pytest.mark.parametrize("option", ["--from", "--to"])
@pytest.mark.parametrize("value", ["yesterday", "2024-13", "2024-02-30", "24-01-01"])
def test_ask_bad_date_is_a_clear_error(cli, fake_llm, seed_store_dir, option, value):
    made = fake_llm(BREST_ANSWER)
    result = cli("ask", "--llm", "recorded", "--store", seed_store_dir, option, value, "Who did Lavrov meet in Brest?")
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert option in result.stderr and repr(value) in result.stderr
    assert "YYYY-MM-DD" in result.stderr
    assert made == []  # rejected before the model is loaded


def test_ask_good_date_range_filters(cli, seed_store_dir):
    # the Brest document has no year: a dated range cannot hold it, so [1] is another document
    result = cli("ask", "--llm", f"fake:{BREST_ANSWER}", "--json", "--store", seed_store_dir, "--from", "2020", "--to", "2023-01-31",
                 "Who did Lavrov meet in Brest?")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    (answer,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(c["source"] in {"001_f63a187ba6a0d519.txt", "002_e0b109478491a41f.txt"} for c in answer["citations"])


# --- brief


def _brief_answers(seed_store, topic: str) -> tuple[list[str], int]:
    """Queued answers for ``brief TOPIC``: one map answer per gathered document (in the Briefer's
    order, passages numbered globally), then the reduce answer. Only the Brest document gets a
    supported bullet; the others get a statement no passage supports (dropped by verification).
    Returns the answers and the global number of the Brest passage cited."""
    from rag.answer import Answerer
    from rag.brief import Briefer

    docs = Briefer(Answerer(seed_store, QueuedChatModel(answers=["unused"]))).gather(topic)
    assert BREST in [s for s, _ in docs]
    answers, first, cited = [], 1, 0
    for source, passages in docs:
        if source == BREST:
            k = next(i for i, p in enumerate(passages) if "Ryzhenkov" in p.chunk.text and "Brest" in p.chunk.text)
            cited = first + k
            answers.append(f"- Lavrov met Maxim Ryzhenkov in Brest [{cited}].")
        else:
            answers.append(f"- Penguins sang opera on the moon [{first}].")
        first += len(passages)
    answers.append(f"Title: Lavrov in Brest\nLead: Lavrov met Maxim Ryzhenkov in Brest [{cited}].")
    return answers, len(docs)


def test_brief_json(cli, fake_llm, seed_store, seed_store_dir):
    topic = "Lavrov meeting Ryzhenkov in Brest"
    answers, n_docs = _brief_answers(seed_store, topic)
    made = fake_llm(*answers)
    result = cli("brief", "--llm", "recorded", "--json", "--store", seed_store_dir, topic)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1  # the JSON object alone; progress went to stderr
    data = json.loads(result.stdout)
    assert set(data) == {"topic", "briefing", "citations"}
    assert data["topic"] == topic
    md = data["briefing"]
    assert md.startswith(f"# Briefing: {topic}\n")  # the topic as asked, not the model's title line
    assert "Lavrov met Maxim Ryzhenkov in Brest [1]." in md
    assert "Penguins" not in md  # the unsupported map bullets were dropped
    assert "## Sources" in md
    # one entry per document, its cited passages under it (issue 17)
    assert f"\n- {BREST_TITLE} — 22 November (year unknown) — `{BREST}`\n  - [1] “" in md
    assert {c["source"] for c in data["citations"]} == {BREST}  # the bullet's passage, then quoted ones
    assert data["citations"][0]["n"] == 1
    assert set(data["citations"][0]) == {"n", "source", "title", "date", "chunk_id", "text", "page", "page_end"}
    assert len(made) == 1 and len(made[0].prompts) == n_docs + 1  # map per document, then reduce
    assert topic in made[0].prompt_text(0)
    assert "summarising" in result.stderr


def test_brief_timeline_out_file(cli, seed_store_dir, tmp_path):
    out = tmp_path / "timeline.md"
    result = cli("brief", "--llm", f"fake:{BREST_ANSWER}", "--timeline", "--out", out, "--store", seed_store_dir)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the briefing went to the file
    assert f"wrote {out}" in result.stderr
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# Timeline\n")
    assert "## Sources" in md
    events = [line for line in md.splitlines() if line.startswith("- **")]
    assert events
    brest = next(line for line in events if "Brest" in line)
    assert brest.startswith("- **22 November (year unknown)** — ")
    # dated events with a year come first, in order; the 2020 visit is dated by its own sentence
    # ("On November 25-26, ... Lavrov paid a working visit"), not by the dateline glued before it;
    # the 2023 visit by its own date (19 January), not by the article's dateline (12 January 2023)
    assert md.index("**25 November 2020** — On November 25-26") < md.index("**19 January 2023**") < md.index(brest)
    assert "**12 January 2023**" not in md
    # every [n] of an event has a passage line under its document's source entry
    n_sources = len(re.findall(r"^  - \[\d+\] ", md, re.M))
    assert n_sources > 0
    assert all(1 <= int(n) <= n_sources for e in events for n in re.findall(r"\[(\d+)\]", e))


def test_brief_on_empty_store(cli, fake_llm, tmp_path):
    made = fake_llm(BREST_ANSWER)
    store = tmp_path / "store"
    store.mkdir()
    result = cli("brief", "--llm", "recorded", "--json", "--store", store, "Lavrov")
    no_traceback(result)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "rag ingest" in result.stderr
    assert made == []
