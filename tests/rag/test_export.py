"""The Markdown export (rag/export.py) shared by ``rag ask --markdown`` and the app's conversation download."""
from __future__ import annotations

from rag.answer import Answer, Citation
from rag.export import answer_as_markdown, conversation_as_markdown


def cite(n: int, source: str, text: str, page: int | None = None, page_end: int | None = None, **kw) -> Citation:
    return Citation(n=n, source=source, title=kw.pop("title", f"Title of {source}"), date=kw.pop("date", None),
                    chunk_id=f"id{n}", text=text, date_label=kw.pop("date_label", None), page=page,
                    page_end=page_end, **kw)


def answer(text: str, citations: list[Citation], refused: bool = False) -> Answer:
    return Answer(question="q", answer=text, refused=refused, citations=citations, timings={})


REPORT = cite(1, "water_report.pdf", "The Zelvenska reservoir inspection\nwas led by engineer Olga Varenik.", page=3,
              title="Regional Water Board Annual Report")
VISIT = cite(2, "000_visit.txt", "Lavrov met Maxim Ryzhenkov in Brest.", title="Lavrov in Belarus",
             date="--11-22", date_label="22 November (year unknown)")


def test_answer_keeps_its_marks_and_lists_each_cited_source_once_with_its_page():
    ans = answer("Olga Varenik led the inspection [1]. She inspected it again [1][2].", [REPORT, VISIT])
    md = answer_as_markdown("Who led the\n inspection?", ans)
    assert md == (
        "## Who led the inspection?\n"
        "\n"
        "Olga Varenik led the inspection [1]. She inspected it again [1][2].\n"
        "\n"
        "### Sources\n"
        "\n"
        "- **[1]** Regional Water Board Annual Report — no date — `water_report.pdf` — p. 3\n"
        "\n"
        "  > The Zelvenska reservoir inspection\n"
        "  > was led by engineer Olga Varenik.\n"
        "\n"
        "- **[2]** Lavrov in Belarus — 22 November (year unknown) — `000_visit.txt`\n"
        "\n"
        "  > Lavrov met Maxim Ryzhenkov in Brest.\n"
    )


def test_a_number_cited_by_two_citations_is_listed_once_and_spans_of_pages_are_shown():
    spanning = cite(1, "b.pdf", "Across pages.", page=4, page_end=5)
    md = answer_as_markdown("Q?", answer("A [1].", [spanning, cite(1, "b.pdf", "duplicate", page=4)]))
    assert md.count("- **[1]**") == 1 and "pp. 4–5" in md and "duplicate" not in md


def test_a_refusal_without_citations_has_no_sources_section():
    md = answer_as_markdown("Who?", answer("The documents do not say.", [], refused=True))
    assert md == "## Who?\n\nThe documents do not say.\n"


def test_conversation_has_every_turn_with_its_own_sources():
    turns = [("Who led the inspection?", answer("Olga Varenik [1].", [REPORT])),
             ("Whom did Lavrov meet?", answer("Maxim Ryzhenkov [1].", [cite(1, "000_visit.txt", "Lavrov met Maxim Ryzhenkov.")]))]
    md = conversation_as_markdown(turns)
    assert md.startswith("# Conversation\n\n## Who led the inspection?\n\nOlga Varenik [1].\n\n### Sources\n")
    first, second = md.split("## Whom did Lavrov meet?", 1)
    assert "water_report.pdf` — p. 3" in first and "000_visit.txt" not in first
    assert "Maxim Ryzhenkov [1]." in second and "`000_visit.txt`" in second and "water_report.pdf" not in second
    assert md.count("### Sources") == 2


def test_a_source_name_with_a_backtick_stays_one_code_span():
    md = answer_as_markdown("Q?", answer("A [1].", [cite(1, "odd`name.txt", "Text.")]))
    assert "`` odd`name.txt ``" in md
