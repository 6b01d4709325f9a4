"""Clean: strip web boilerplate from article text, keeping the article itself intact.

Rules are line based: a line is dropped only when it matches a known boilerplate pattern as a
whole, so article sentences are never cut. Trailers ("Latest news", "Must read", ...) end the
article: everything from them on is navigation. No well-kept library does this on plain text
(trafilatura/justext need the HTML DOM), hence these rules.
"""
from __future__ import annotations

import re

# Whole lines that are site chrome.
_DROP_LINE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"skip to (main )?content",
        r"support us",
        r"(share|print|subscribe|menu|search|close|home)",
        r"photo( credit)?s?\s*:.*",
        r"(image|picture|credit)s?\s*:.*",
        r"read (also|more)\b.*",
        r"see also\s*:.*",
        # an appeal for money or sign-ups: news sites of every kind end articles with one
        r".*\b(become (a|our) (patron|member|supporter|subscriber)|donate( now| today)?)\b.*[!.]?",
        r"[•·\-\s]*([a-z]{2}-[A-Z]{2}\d*\s*){2,}",  # language switcher: de-DE1 en-GB1 ...
        r"(recommended( to you)?|related( articles)?)",
    )
]
# A line starting a trailer of links to other articles: the article is over.
_TRAILER = re.compile(r"^(latest news|must read|you might also like.*|related (news|posts)|more from .*)$", re.IGNORECASE)


def clean_text(text: str) -> str:
    """Remove boilerplate lines and trailers; normalise line endings and blank runs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _TRAILER.match(stripped):
            break
        if stripped and any(p.fullmatch(stripped) for p in _DROP_LINE):
            continue
        if stripped and _is_truncated_duplicate(stripped, lines[i + 1 :]):
            continue  # breadcrumb like "ArticlesSome title..." repeating the real title
        kept.append(line)
    # A short line with no sentence punctuation that nothing follows is page chrome ("Advanced
    # settings", a share bar): a heading always has text after it.
    while kept and (not kept[-1].strip() or _is_chrome_tail(kept[-1].strip())):
        kept.pop()
    cleaned = "\n".join(kept)
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned)
    return cleaned.strip() + "\n" if cleaned.strip() else ""


def _is_chrome_tail(line: str) -> bool:
    return len(line.split()) <= 3 and not re.search(r"[.!?:;”\"»)\d]$", line)


def _is_truncated_duplicate(line: str, following: list[str]) -> bool:
    if not line.endswith(("...", "…")):
        return False
    stem = line.rstrip(".…").strip()
    nxt = next((f.strip() for f in following if f.strip()), "")
    # the stem may carry a glued breadcrumb prefix ("Articles"), so compare its tail
    tail = stem[-40:]
    return len(tail) >= 20 and tail in nxt and len(nxt) > len(tail)


# A page marker: a paragraph of its own that no rule drops and no document contains (private-use
# characters around it), so that page boundaries survive cleaning.
_PAGE_MARK = "\ue000PAGE{}\ue000"
_PAGE_MARK_RE = re.compile("\ue000PAGE(\\d+)\ue000(?:\n+|$)")


def clean_pages(pages: list[str] | tuple[str, ...]) -> tuple[str, list[tuple[int, int]]]:
    """Clean a paged document (``pages[n - 1]`` is page n): the text that :func:`clean_text` makes of
    the non-empty pages joined by blank lines, and ``(offset, page)`` for the start of each page that
    kept text, in order.

    Each page is preceded by a marker paragraph before cleaning and the markers are taken out after.
    Should a rule read a marker as context and clean the text differently (a truncated-title line
    at the very end of a page), the page starts are dropped rather than the text changed: the text
    (and so the content hash and chunk ids) is always that of the unpaged document.
    """
    plain = clean_text("\n\n".join(p for p in pages if p.strip()))
    marked = clean_text("\n\n".join(f"{_PAGE_MARK.format(n)}\n\n{p}" for n, p in enumerate(pages, start=1)
                                    if p.strip()))
    parts: list[str] = []
    starts: list[tuple[int, int]] = []
    length = pos = 0
    for m in _PAGE_MARK_RE.finditer(marked):
        parts.append(marked[pos : m.start()])
        length += m.start() - pos
        pos = m.end()
        if starts and starts[-1][0] == length:  # the page before kept no text
            starts.pop()
        starts.append((length, int(m.group(1))))
    parts.append(marked[pos:])
    text = "".join(parts)
    if text != plain:
        return plain, []
    return plain, [(offset, page) for offset, page in starts if offset < len(plain)]
