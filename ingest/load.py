"""Load: turn a file on disk into raw text, or a clear, specific error.

Supported: .txt, .md/.markdown, .html/.htm (visible text only, via trafilatura), .pdf (pypdf, page by page),
.docx (python-docx: paragraphs and tables in document order, each heading on a line of its own).
Text encodings other than UTF-8 (cp1251, latin-1, ...) are detected with charset-normalizer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
DOCX_SUFFIXES = {".docx"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | DOCX_SUFFIXES


class LoadError(ValueError):
    """A file that cannot be ingested; ``str()`` is a one-line reason naming the file."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class LoadedFile:
    path: Path
    text: str
    format: str  # text | html | pdf | docx
    html_title: str | None = None
    html_date: str | None = None
    # PDF only: the text of each page in order (page n is pages[n - 1]; "" for a page with no text);
    # ``text`` is the non-empty pages joined by blank lines.
    pages: tuple[str, ...] | None = None


def load_file(path: Path, max_bytes: int) -> LoadedFile:
    """Read ``path`` and return its text. Raises LoadError with the reason on any problem."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(path, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(path, f"file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit")
        if size == 0:
            raise LoadError(path, "empty file")
        data = path.read_bytes()
    except PermissionError:
        raise LoadError(path, "permission denied") from None
    except FileNotFoundError:
        raise LoadError(path, "no such file") from None
    except IsADirectoryError:
        raise LoadError(path, "is a directory") from None
    except OSError as exc:
        raise LoadError(path, f"cannot read: {exc.strerror or exc}") from None

    if suffix in PDF_SUFFIXES:
        pages = _pdf_pages(path, data)
        return LoadedFile(path, "\n\n".join(p for p in pages if p), "pdf", pages=pages)
    if suffix in DOCX_SUFFIXES:
        return LoadedFile(path, _docx_text(path, data), "docx")
    text, _ = decode_text(path, data)
    if suffix in HTML_SUFFIXES:
        body, title, date = _html_text(path, text)
        return LoadedFile(path, body, "html", html_title=title, html_date=date)
    if not text.strip():
        raise LoadError(path, "empty file (only whitespace)")
    return LoadedFile(path, text, "text")


def decode_text(path: Path | str, data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8, else as the encoding charset-normalizer detects."""
    if b"\x00" in data[:8192]:
        raise LoadError(path, "binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError(path, "binary or undecodable file: no text encoding fits")
    text = str(best)
    if _control_ratio(text) > 0.05:
        raise LoadError(path, "binary file: decoded text is mostly control characters")
    return text, best.encoding


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / len(text)


def _html_text(path: Path | str, html: str) -> tuple[str, str | None, str | None]:
    """Visible main text of an HTML page (scripts, styles, hidden elements and navigation dropped)."""
    import trafilatura
    from lxml import html as lxml_html

    # Hidden elements are not visible text: remove them before extraction.
    try:
        tree = lxml_html.fromstring(html)
    except Exception as exc:  # lxml raises several types for garbage input
        raise LoadError(path, f"unparseable HTML: {exc}") from None
    for el in tree.xpath(
        "//script|//style|//noscript|//template|//*[@hidden]|//*[@aria-hidden='true']"
        "|//*[contains(translate(@style,' ',''),'display:none')]|//*[contains(translate(@style,' ',''),'visibility:hidden')]"
    ):
        el.drop_tree()
    cleaned = lxml_html.tostring(tree, encoding="unicode")
    body = trafilatura.extract(cleaned, include_comments=False, include_tables=True, favor_recall=True, with_metadata=False)
    if not body:
        body = "\n\n".join(t.strip() for t in tree.xpath("//body//text()") if t.strip())
    if not body or not body.strip():
        raise LoadError(path, "HTML page has no visible text")
    meta = trafilatura.extract_metadata(cleaned)
    title = meta.title if meta is not None else None
    date = meta.date if meta is not None else None
    return body, title, date


def _pdf_pages(path: Path, data: bytes) -> tuple[str, ...]:
    """The stripped text of every page (kept apart, so that chunks can cite their page)."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = tuple((page.extract_text() or "").strip() for page in reader.pages)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise LoadError(path, f"unreadable PDF: {exc}") from None
    if not any(pages):
        raise LoadError(path, "PDF has no extractable text (scanned images need OCR)")
    return pages


def _docx_text(path: Path, data: bytes) -> str:
    """Paragraphs and table rows of a Word document in order; a heading is a paragraph of its own, so
    that splitting keeps it as the context of what follows (as for the other formats)."""
    import io
    import zipfile

    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # an OLE container: encrypted .docx or a legacy .doc
        raise LoadError(path, "encrypted or legacy (.doc) Word file: save it as an unencrypted .docx")
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(path, f"not a readable Word document: {exc}") from None
    blocks: list[str] = []
    for item in doc.iter_inner_content():
        if hasattr(item, "rows"):  # a table: one line per row, cells separated by " | "
            rows = [" | ".join(c.text.strip() for c in row.cells if c.text.strip()) for row in item.rows]
            blocks.append("\n".join(r for r in rows if r))
        elif item.text.strip():
            blocks.append(item.text.strip())
    text = "\n\n".join(b for b in blocks if b)
    if not text:
        raise LoadError(path, "Word document has no text")
    return text
