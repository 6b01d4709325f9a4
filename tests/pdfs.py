"""Real multi-page PDFs for tests, written by hand (no PDF writer is installed; pypdf cannot draw text).

Each page is a list of lines drawn in Helvetica (a standard Type 1 font, WinAnsi text); the file has
a correct cross-reference table, so pypdf reads it without repairs and extracts each page's text.
"""
from __future__ import annotations

import textwrap
from pathlib import Path


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252") + b")"


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A PDF whose page n shows the lines ``pages[n - 1]`` (an empty list makes a blank page)."""
    n = len(pages)
    font_id = 3 + 2 * n  # 1 catalog, 2 pages, then (page, contents) pairs, then the font
    objs: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n)) + b"] /Count %d >>" % n,
    ]
    for i, lines in enumerate(pages):
        ops = [b"BT", b"/F1 11 Tf", b"14 TL", b"72 740 Td"]
        for line in lines:
            ops.append(_pdf_string(line) + b" Tj T*")
        ops.append(b"ET")
        content = b"\n".join(ops)
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font_id))
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def write_pdf(path: Path, pages: list[str | list[str]], width: int = 90) -> Path:
    """Write ``pages`` (each a text whose lines are wrapped at ``width``, or a list of lines) as a PDF."""
    lines = [[w for line in p.split("\n") for w in textwrap.wrap(line, width)] if isinstance(p, str) else p
             for p in pages]
    path.write_bytes(pdf_bytes(lines))
    return path


# A three-page report: the reservoir inspection (its engineer, its date) is told on page 3 only.
REPORT_PAGES = [
    "Regional Water Board Annual Report\n"
    "The board met four times during the year to review the budget of the northern district. "
    "Spending on pumping stations rose by a tenth, mostly for new electric motors and control panels. "
    "The finance committee asked for quarterly statements from every district office. "
    "Two district offices were merged to save rent, and their archives were moved to the central library. "
    "Members also discussed the tariff for industrial users, which stays unchanged until the next review. "
    "The auditors found the accounts in good order and praised the new invoicing system.",
    "Staffing and training took most of the second half of the year. "
    "Eleven technicians joined the board, and every new employee completed the safety course. "
    "The apprenticeship scheme with the technical college continued with twenty places. "
    "A new rota for night shifts reduced overtime in the pumping stations. "
    "The board thanked the retiring head of maintenance for thirty years of service. "
    "Volunteers from the villages helped to clean the river banks in the spring campaign. "
    "The training centre bought two simulators for leak detection exercises.",
    "Dams and reservoirs were inspected as the law requires. "
    "The Zelvenska reservoir inspection was led by engineer Olga Varenik on 14 March. "
    "She found hairline cracks in the spillway and ordered sealing work before the flood season. "
    "The smaller ponds near the mill were drained, cleaned and refilled without incident. "
    "Sensors that measure the water level now report every ten minutes to the control room. "
    "The board approved a plan to replace the oldest sluice gates within five years. "
    "Fishing clubs were told about the works so that they could plan their competitions.",
]
REPORT_FACT_ANSWER = "The Zelvenska reservoir inspection was led by engineer Olga Varenik [1]."
REPORT_QUESTION = "Who led the Zelvenska reservoir inspection?"


def write_report(path: Path) -> Path:
    return write_pdf(path, REPORT_PAGES)
