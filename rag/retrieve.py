"""Retrieve: hybrid search (dense cosine in Chroma + BM25 via bm25s), fused by reciprocal rank.

Questions naming a year or a month get passages of that time first: a passage whose document
date or text matches gets its fused score multiplied by ``1 + time_boost``. The BM25 index is
derived from the Chroma collection itself (rebuilt when the store changes), so the two sides
can never disagree about which chunks exist.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from rag.config import Settings
from rag.dates import MONTH_NAMES, MONTH_WORD_TITLE, MONTHS, NUMBER, YEAR
from rag.store import Store, StoredChunk, document_order


@dataclass(frozen=True)
class Filters:
    """Retrieval restrictions: a set of source file names and/or an ISO date range (inclusive)."""

    sources: tuple[str, ...] = ()
    date_from: str | None = None  # YYYY-MM-DD
    date_to: str | None = None

    def __post_init__(self) -> None:
        for bound in (self.date_from, self.date_to):
            if bound:
                check_date_bound(bound)  # a bad bound is an error, never a filter that silently admits nothing

    def chroma_where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.date_from:
            clauses.append({"date_ord": {"$gte": _ordinal(self.date_from)}})
        if self.date_to:
            clauses.append({"date_ord": {"$lte": _ordinal(self.date_to)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def admits(self, meta: dict[str, Any]) -> bool:
        if self.sources and meta.get("source") not in self.sources:
            return False
        if self.date_from or self.date_to:
            ordv = meta.get("date_ord")
            if ordv is None:
                return False  # year unknown: cannot be placed inside a date range
            if self.date_from and ordv < _ordinal(self.date_from):
                return False
            if self.date_to and ordv > _ordinal(self.date_to):
                return False
        return True


def check_date_bound(value: str) -> str:
    """``value`` stripped if it is a real calendar date written YYYY, YYYY-MM or YYYY-MM-DD; else ValueError."""
    import datetime as dt

    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value.strip())
    try:
        if not m:
            raise ValueError
        dt.date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        raise ValueError(f"{value!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD") from None
    return value.strip()


def _ordinal(iso: str) -> int:
    parts = [int(p) for p in check_date_bound(iso).split("-")] + [1, 1]
    return parts[0] * 10000 + parts[1] * 100 + parts[2]


@dataclass
class Passage:
    """A retrieved chunk with its scores."""

    chunk: StoredChunk
    score: float  # fused
    dense: float | None = None  # cosine similarity, when the dense side found it
    bm25: float | None = None
    # what the model is shown of the chunk (its heading line and the selected sentences, see
    # rag/select.py); None: the whole chunk
    shown: str | None = None

    @property
    def meta(self) -> dict[str, Any]:
        return self.chunk.metadata

    @property
    def shown_text(self) -> str:
        """The chunk's text as shown to the model (and judged by the verifier)."""
        return self.chunk.text if self.shown is None else self.shown


@dataclass
class Retrieval:
    passages: list[Passage]
    best_dense: float
    elapsed_ms: float


@dataclass(frozen=True)
class TimeHint:
    years: frozenset[int]
    months: frozenset[int]

    @classmethod
    def from_question(cls, question: str) -> "TimeHint":
        years = frozenset(int(y) for y in re.findall(rf"\b({YEAR})\b", question))
        months = frozenset(
            MONTHS[m.lower().rstrip(".")]
            for m in re.findall(rf"\b({MONTH_WORD_TITLE})\b\.?", question)
        )
        return cls(years, months)

    def matches(self, chunk: StoredChunk) -> bool:
        if not self.years and not self.months:
            return False
        meta, text = chunk.metadata, chunk.text
        ok = True
        if self.years:
            ok = meta.get("year") in self.years or any(str(y) in text for y in self.years)
        if ok and self.months:
            ok = meta.get("month") in self.months or any(
                re.search(rf"\b{MONTH_NAMES[m - 1][:3]}", text) for m in self.months
            )
        return ok


# BM25 tokens: words of two or more letters (bm25s's default pattern) and numbers whole, one letter
# or digit long too. The default drops every one-character token, so "0 to 1/4 percent", "2-1/4",
# "$1.5 billion" and "3 documents" lost their numbers and matched every passage on the same words
# (a number followed by letters, "25th", stays one token).
BM25_TOKEN_PATTERN = rf"(?u)(?<![\w.,/-]){NUMBER}(?![\w/])|\b\w\w+\b"


def bm25_tokenize(texts: list[str], stemmer: Any):
    """``texts`` as bm25s tokens (English stop words out, Snowball stems, numbers kept whole)."""
    import bm25s

    return bm25s.tokenize(texts, token_pattern=BM25_TOKEN_PATTERN, stopwords="en", stemmer=stemmer,
                          show_progress=False)


class _Bm25Index:
    """bm25s index over every chunk in the store, rebuilt when the store changes."""

    def __init__(self) -> None:
        self.key: tuple[int, int] | None = None
        self.chunks: list[StoredChunk] = []
        self.model = None
        self.lock = threading.Lock()

    def ensure(self, store: Store) -> None:
        key = (store.version, store.count())
        if key == self.key:
            return
        with self.lock:
            if key == self.key:
                return
            import bm25s
            import Stemmer

            chunks = store.get()
            model = None
            if chunks:
                stemmer = Stemmer.Stemmer("english")
                tokens = bm25_tokenize([c.text for c in chunks], stemmer)
                model = bm25s.BM25()
                model.index(tokens, show_progress=False)
                self.stemmer = stemmer
            self.chunks, self.model, self.key = chunks, model, key

    def search(self, query: str, k: int) -> list[tuple[StoredChunk, float]]:
        if self.model is None or not self.chunks:
            return []
        tokens = bm25_tokenize([query], self.stemmer)
        if not tokens.vocab:
            return []
        k = min(k, len(self.chunks))
        idx, scores = self.model.retrieve(tokens, k=k, show_progress=False)
        return [(self.chunks[int(i)], float(s)) for i, s in zip(idx[0], scores[0]) if s > 0]


class Retriever:
    """Hybrid retriever: ``run(question, filters)`` returns the top passages, best first."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or store.settings
        self._bm25 = _Bm25Index()
        self._docs: dict[str, str] = {}
        self._docs_key: tuple[int, int] | None = None

    def documents(self) -> dict[str, str]:
        """Full text per source (chunks joined), from the same cache as the BM25 index."""
        self._bm25.ensure(self.store)
        if self._docs_key != self._bm25.key:
            docs: dict[str, list[StoredChunk]] = {}
            for c in self._bm25.chunks:
                docs.setdefault(c.metadata.get("source", "?"), []).append(c)
            self._docs = {s: " ".join(c.text for c in document_order(cs)) for s, cs in docs.items()}
            self._docs_key = self._bm25.key
        return self._docs

    def lexical_search(self, query: str, k: int) -> list[tuple[StoredChunk, float]]:
        """The ``k`` best chunks for ``query`` by BM25 alone, best first (only those scoring > 0).

        The index is rebuilt first if the store changed; benchmarks time this as the sparse half
        of a search.
        """
        self._bm25.ensure(self.store)
        return self._bm25.search(query, k)

    def lexical_chunks(self) -> list[StoredChunk]:
        """Every chunk the BM25 index holds, refreshed from the store first (tests check that it
        agrees with Chroma's records)."""
        self._bm25.ensure(self.store)
        return list(self._bm25.chunks)

    def lexical_scores(self, query: str, k: int = 1000) -> dict[str, float]:
        """Best BM25 score of any chunk per source, over the ``k`` best chunks (absent: no match)."""
        best: dict[str, float] = {}
        for chunk, score in self.lexical_search(query, k):
            source = chunk.metadata.get("source", "?")
            best[source] = max(best.get(source, 0.0), score)
        return best

    def run(self, question: str, filters: Filters | None = None, top_k: int | None = None) -> Retrieval:
        """The ``top_k`` best passages for ``question``; a compound question ("Which X ..., and what
        Y?") gets the best passage of each of its parts first, then the best of the whole."""
        s = self.settings
        filters = filters or Filters()
        top_k = top_k or s.top_k
        t0 = time.perf_counter()
        ranked, best = self._fused(question, filters)
        parts = question_parts(question)
        if len(parts) > 1:
            chosen: list[Passage] = []
            for part in parts:
                part_ranked, part_best = self._fused(part, filters)
                best = max(best, part_best)
                pick = next((p for p in part_ranked if all(p.chunk.id != c.chunk.id for c in chosen)), None)
                if pick is not None and len(chosen) < top_k:
                    chosen.append(pick)
            chosen += [p for p in ranked if all(p.chunk.id != c.chunk.id for c in chosen)]
            ranked = chosen
        return Retrieval(_capped(ranked, top_k, s.max_per_source), best, (time.perf_counter() - t0) * 1000.0)

    def _fused(self, question: str, filters: Filters) -> tuple[list[Passage], float]:
        """Dense and BM25 rankings fused by reciprocal rank, best first, and the best dense similarity."""
        s = self.settings
        qvec = self.store.embed_query(question)
        dense = self.store.dense_search(qvec, k=s.candidates, where=filters.chroma_where())
        self._bm25.ensure(self.store)
        # BM25 has no native filter: over-fetch, then drop what the filter excludes.
        over = s.candidates if filters.chroma_where() is None else s.candidates * 10
        sparse = [(c, sc) for c, sc in self._bm25.search(question, over) if filters.admits(c.metadata)][: s.candidates]

        hint = TimeHint.from_question(question)
        fused: dict[str, Passage] = {}
        for rank, (chunk, sim) in enumerate(dense, start=1):
            p = fused.setdefault(chunk.id, Passage(chunk, 0.0))
            p.score += s.dense_weight / (s.rrf_k + rank)
            p.dense = sim
        for rank, (chunk, sc) in enumerate(sparse, start=1):
            p = fused.setdefault(chunk.id, Passage(chunk, 0.0))
            p.score += s.bm25_weight / (s.rrf_k + rank)
            p.bm25 = sc
        for p in fused.values():
            if hint.matches(p.chunk):
                p.score *= 1.0 + s.time_boost
        ranked = sorted(fused.values(), key=lambda p: p.score, reverse=True)
        return ranked, max((sim for _, sim in dense), default=0.0)


def _capped(ranked: list[Passage], top_k: int, per_source: int) -> list[Passage]:
    """The first ``top_k`` of ``ranked`` with at most ``per_source`` passages of one document (0: no
    cap), so that a question spanning documents sees more than the one that matches it best; when
    too few documents match, the cap gives way and the best remaining passages fill the list."""
    if per_source <= 0:
        return ranked[:top_k]
    counts: dict[str, int] = {}
    out: list[Passage] = []
    for p in ranked:
        src = p.meta.get("source", "?")
        if counts.get(src, 0) < per_source:
            out.append(p)
            counts[src] = counts.get(src, 0) + 1
        if len(out) == top_k:
            return out
    return out + [p for p in ranked if p not in out][: top_k - len(out)]


# A new part of a compound question starts with a question word after "and"/"but" ("..., and what did
# Lavrov say about nuclear weapons?"), also behind a preposition ("..., and at which memorial did he
# lay flowers?", "... and with what share of the vote?"), or after ","/";" alone ("Who chaired the
# meeting; who dissented?"). After a bare comma a preposition starts a relative clause, not a part
# ("the conference, at which Belarus launched the Charter"), so it does not break there.
_QUESTION_WORD = r"(?:what|which|who|whom|whose|when|where|why|how|did|does|do|is|was|were|are|has|have|had)\b"
_PART_PREPOSITION = r"(?:at|in|on|from|with|since|for|to|by|of|under|after|before|during|through|until|against)\s+"
_PART_BREAK = re.compile(rf"\s*[,;]?\s*\b(?:and|but)\s+(?=(?:{_PART_PREPOSITION})?{_QUESTION_WORD})"
                         rf"|\s*[,;]\s*(?={_QUESTION_WORD})", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The parts of a compound question, each with the names of the question's first part when it
    has none of its own ("..., and what did he sign?" is searched with the first part's names)."""
    parts = [p.strip(" ,;") for p in _PART_BREAK.split(question.strip()) if p and p.strip(" ,;")]
    if len(parts) < 2:
        return [question]
    names = re.findall(r"(?<!^)\b[A-Z][\w’'-]+", parts[0])
    out = [parts[0]]
    for part in parts[1:]:
        own = re.findall(r"(?<!^)\b[A-Z][\w’'-]+", part)
        out.append(part if own or not names else f"{part} {' '.join(names)}")
    return out
