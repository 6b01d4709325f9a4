"""Synthetic corpus for scale benchmarks, generated locally from the sentences of seeds/*.txt.

Documents recombine seed sentences; every document gets its own cast (people, countries,
cities are swapped for generated names) and its own dates, so BM25 sees a growing vocabulary
and the date logic sees many distinct dates. Nothing is downloaded.

Two ways in:
* :func:`write_documents` writes .txt documents to a directory until the real splitter says
  they hold ``target_chunks`` chunks (these go through the real Ingestor);
* :func:`replicate` turns a pool of already-embedded chunks into any number of chunks: replica
  ``r`` renames every generated name and shifts every year, and its embedding is the pool
  chunk's embedding plus small Gaussian noise (renormalised). Used for scales too large to
  embed on this machine; the report says so.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from benchmarks.common import SEEDS
from rag.dates import MONTH_NAMES, MONTH_WORD_TITLE

MONTHS = list(MONTH_NAMES)
# the month words as the documents capitalise them (case-sensitive, as the corpus rewrites only those)
_MONTH_RE = rf"(?:{MONTH_WORD_TITLE})\.?"
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH_RE + r"(?:,?\s+(\d{4}))?")
_MONTH_DAY = re.compile(r"\b" + _MONTH_RE + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{1,2})?(?:,?\s+(\d{4}))?\b")
# Not rag.dates.YEAR (1900-2099) on purpose: the years a replica shifts are 1940-2049, so that a
# shifted year stays a plausible one for these documents; the range shapes the benchmark corpus.
_YEAR = re.compile(r"\b(19[4-9]\d|20[0-4]\d)\b")
_CAP = re.compile(r"\b[A-Z][a-z]+\b")

# Names that occur in the seeds, by kind; each document replaces them with its own cast.
SEED_SURNAMES = ["Lavrov", "Lukashenko", "Putin", "Makei", "Ryzhenkov", "Zakharova", "Zaharova"]
SEED_FIRST = ["Sergey", "Sergei", "Vladimir", "Aleksander", "Alexander", "Maxim", "Maria"]
SEED_COUNTRIES = {"Belarus": "Belarusian", "Russia": "Russian", "Ukraine": "Ukrainian", "Poland": "Polish",
                  "Lithuania": "Lithuanian", "Kazakhstan": "Kazakh", "Moldova": "Moldovan"}
SEED_CITIES = ["Minsk", "Moscow", "Brest", "Sochi", "Grodno", "Brussels", "Petersburg"]

_ONSET = ["b", "d", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr", "st", "tr", "vl", "zh"]
_VOWEL = ["a", "e", "i", "o", "u", "ya", "ei", "ou"]
_CODA = ["", "", "n", "r", "l", "s", "m", "k"]
FIRST_NAMES = ["Anna", "Boris", "Clara", "Dmitri", "Elena", "Fyodor", "Galina", "Igor", "Irina", "Jonas",
               "Katya", "Leonid", "Marta", "Nikolai", "Olga", "Pavel", "Rasa", "Stefan", "Tamara", "Viktor",
               "Yulia", "Zoran", "Agnes", "Bogdan", "Dana", "Emil", "Hanna", "Ivo", "Lina", "Milan"]


def _syllables(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_ONSET) + rng.choice(_VOWEL) + rng.choice(_CODA) for _ in range(n))


@dataclass
class NameBank:
    """Deterministic generated names; every name is a single capitalised word."""

    seed: int = 7
    surnames: list[str] = field(default_factory=list)
    firsts: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    adjectives: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        taken: set[str] = set()

        def fresh(make) -> str:
            while True:
                name = make().capitalize()
                if name not in taken and len(name) >= 4:
                    taken.add(name)
                    return name

        self.surnames = [fresh(lambda: _syllables(rng, 2) + rng.choice(["ov", "enko", "ski", "ić", "an", "is", "er"]))
                         for _ in range(600)]
        self.firsts = FIRST_NAMES + [fresh(lambda: _syllables(rng, 2)) for _ in range(90)]
        self.countries = [fresh(lambda: _syllables(rng, 2) + rng.choice(["ia", "land", "stan", "ova", "or"]))
                          for _ in range(120)]
        self.adjectives = [(c[:-1] + "an") if c.endswith("a") else (c + "ian") for c in self.countries]
        self.cities = [fresh(lambda: _syllables(rng, 2) + rng.choice(["grad", "burg", "ovo", "ak", "sk", ""]))
                       for _ in range(400)]
        # token -> (kind, index): used by replicate() to rename generated names consistently
        self.index: dict[str, tuple[str, int]] = {}
        for kind, names in (("surname", self.surnames), ("first", self.firsts), ("country", self.countries),
                            ("adjective", self.adjectives), ("city", self.cities)):
            for i, n in enumerate(names):
                self.index.setdefault(n, (kind, i))

    def cast(self, rng: random.Random) -> dict[str, str]:
        """A mapping from seed names to this document's names."""
        mapping: dict[str, str] = {}
        for s in SEED_SURNAMES:
            mapping[s] = rng.choice(self.surnames)
        mapping["Zaharova"] = mapping["Zakharova"]
        for f in SEED_FIRST:
            mapping[f] = rng.choice(self.firsts)
        mapping["Sergei"] = mapping["Sergey"]
        mapping["Aleksander"] = mapping["Alexander"]
        for country, adj in SEED_COUNTRIES.items():
            i = rng.randrange(len(self.countries))
            mapping[country] = self.countries[i]
            mapping[adj] = self.adjectives[i]
        for c in SEED_CITIES:
            mapping[c] = rng.choice(self.cities)
        return mapping

    def rename(self, text: str, r: int) -> str:
        """Replica ``r``'s version of a generated text: each generated name → another of its kind."""
        if r == 0:
            return text
        lists = {"surname": self.surnames, "first": self.firsts, "country": self.countries,
                 "adjective": self.adjectives, "city": self.cities}

        def sub(m: re.Match) -> str:
            hit = self.index.get(m.group(0))
            if hit is None:
                return m.group(0)
            kind, i = hit
            names = lists[kind]
            return names[(i + 7919 * r) % len(names)]

        return _CAP.sub(sub, text)


def _substitute(text: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return text
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, mapping), key=len, reverse=True)) + r")\b")
    return pattern.sub(lambda m: mapping[m.group(1)], text)


def _redate(text: str, rng: random.Random, year: int) -> str:
    def day_month(m: re.Match) -> str:
        mo = rng.randrange(12)
        out = f"{rng.randint(1, 28)} {MONTHS[mo]}"
        return out + (f" {year + rng.randint(-1, 0)}" if m.group(2) else "")

    def month_day(m: re.Match) -> str:
        mo = rng.randrange(12)
        out = f"{MONTHS[mo]} {rng.randint(1, 28)}"
        return out + (f", {year + rng.randint(-1, 0)}" if m.group(2) else "")

    text = _DAY_MONTH.sub(day_month, text)
    return _MONTH_DAY.sub(month_day, text)


@dataclass
class SeedMaterial:
    sentences: list[str]
    headings: list[str]


def seed_material(seeds_dir: Path = SEEDS) -> SeedMaterial:
    """Usable sentences and heading-like lines of every seed document (cleaned like ingest does)."""
    from ingest.clean import clean_text
    from rag.verify import split_sentences

    sentences: list[str] = []
    headings: list[str] = []
    for path in sorted(seeds_dir.glob("*.txt")):
        text = clean_text(path.read_text(encoding="utf-8", errors="replace"))
        for para in re.split(r"\n\s*\n", text):
            para = para.strip()
            if not para:
                continue
            words = para.split()
            if "\n" not in para and 3 <= len(words) <= 14 and not para.endswith((".", ",", ";", "”", '"')):
                if not re.search(r"\d{1,2}:\d{2}|\d{4}\d", para):
                    headings.append(para)
                continue
            for s in split_sentences(para):
                if 40 <= len(s) <= 420 and len(s.split()) >= 7 and s[0].isupper():
                    sentences.append(s)
    # stable order, no duplicates
    sentences = list(dict.fromkeys(sentences))
    headings = list(dict.fromkeys(headings))
    if not sentences:
        raise RuntimeError(f"no usable sentences in {seeds_dir}")
    return SeedMaterial(sentences, headings)


class CorpusGenerator:
    """Synthetic documents: a title, a dateline, 3-8 paragraphs of recombined seed sentences."""

    def __init__(self, seed: int = 1234, seeds_dir: Path = SEEDS) -> None:
        self.material = seed_material(seeds_dir)
        self.names = NameBank()
        self.seed = seed

    def document(self, k: int) -> str:
        rng = random.Random(self.seed * 1_000_003 + k)
        cast = self.names.cast(rng)
        year = rng.randint(2014, 2025)
        mo = rng.randrange(12)
        day = rng.randint(1, 28)
        m = self.material
        if m.headings and rng.random() < 0.7:
            title = _substitute(rng.choice(m.headings), cast)
        else:
            title = f"{cast['Lavrov']} visit to {cast['Belarus']} on {rng.choice(['security', 'trade', 'energy', 'the union treaty', 'border issues'])}"
        dateline = f"{day} {MONTHS[mo]} {year}" if rng.random() < 0.5 else f"{MONTHS[mo]} {day}, {year}"
        parts = [title, "", dateline, ""]
        for p in range(rng.randint(3, 8)):
            if p and m.headings and rng.random() < 0.15:
                parts += [_substitute(rng.choice(m.headings), cast), ""]
            sents = rng.sample(m.sentences, min(len(m.sentences), rng.randint(2, 5)))
            para = " ".join(_redate(_substitute(s, cast), rng, year) for s in sents)
            parts += [para, ""]
        return "\n".join(parts).strip() + "\n"


def write_documents(directory: Path, target_chunks: int, settings, seed: int = 1234) -> tuple[list[Path], int]:
    """Write documents until the real splitter counts ``target_chunks`` chunks (last one may overshoot a little).

    Returns the written paths and their chunk count as the ingest pipeline will see it.
    """
    from ingest.pipeline import prepare_document

    directory.mkdir(parents=True, exist_ok=True)
    gen = CorpusGenerator(seed)
    paths: list[Path] = []
    total = 0
    k = 0
    while total < target_chunks:
        path = directory / f"synthetic_{k:06d}.txt"
        path.write_text(gen.document(k), encoding="utf-8")
        n = len({c.display_text + str(c.start) for c in prepare_document(path, settings).chunks})
        paths.append(path)
        total += n
        k += 1
    return paths, total


@dataclass
class Pool:
    """Chunks already in a store, with their embeddings: the material for :func:`replicate`."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    embeddings: Any  # numpy (n, d) float32

    def save(self, path: Path) -> None:
        import json

        import numpy as np

        np.savez_compressed(path, embeddings=self.embeddings.astype("float32"),
                            meta=np.array(json.dumps({"ids": self.ids, "texts": self.texts, "metadatas": self.metadatas})))

    @classmethod
    def load(cls, path: Path) -> "Pool":
        import json

        import numpy as np

        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return cls(meta["ids"], meta["texts"], meta["metadatas"], z["embeddings"])

    @classmethod
    def from_store(cls, store) -> "Pool":
        import numpy as np

        res = store.collection.get(include=["documents", "metadatas", "embeddings"])
        return cls(list(res["ids"]), list(res["documents"]), [dict(m) for m in res["metadatas"]],
                   np.asarray(res["embeddings"], dtype="float32"))


def _shift_year_meta(meta: dict[str, Any], shift: int, names: NameBank, r: int) -> dict[str, Any]:
    m = dict(meta)
    src = str(m.get("source", "doc.txt"))
    stem, dot, ext = src.rpartition(".")
    m["source"] = f"{stem}_r{r:03d}.{ext}" if dot else f"{src}_r{r:03d}"
    for key in ("title", "heading"):
        if m.get(key):
            m[key] = names.rename(str(m[key]), r)
    if m.get("year"):
        y = int(m["year"]) + shift
        m["year"] = y
        m["date_ord"] = y * 10000 + int(m.get("month", 1)) * 100 + int(m.get("day", 1))
        if m.get("date"):
            m["date"] = f"{y:04d}" + str(m["date"])[4:]
        if m.get("date_label"):
            m["date_label"] = re.sub(r"\b\d{4}\b", str(y), str(m["date_label"]))
    m["content_hash"] = hashlib.sha256(f"{m.get('content_hash', '')}:{r}".encode()).hexdigest()
    return m


def replicate(pool: Pool, n: int, noise: float = 0.25, seed: int = 99,
              batch: int = 2000) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]], Any, Any, Any]]:
    """Yield (ids, texts, metadatas, embeddings, source rows, replica numbers) batches totalling ``n`` chunks.

    Replica 0 is the pool itself; replica r>0 renames generated names, shifts years by a
    replica-specific offset and perturbs embeddings by Gaussian noise of total norm ≈ ``noise``
    (cosine to the pool vector ≈ 1/sqrt(1+noise²) ≈ 0.97 for 0.25) before renormalising.
    """
    import numpy as np

    names = NameBank()
    rng = np.random.default_rng(seed)
    size = len(pool.ids)
    dim = pool.embeddings.shape[1]
    sigma = noise / np.sqrt(dim)
    buf_ids: list[str] = []
    buf_texts: list[str] = []
    buf_meta: list[dict[str, Any]] = []
    buf_idx: list[int] = []
    buf_r: list[int] = []

    def flush():
        idx = np.asarray(buf_idx)
        emb = pool.embeddings[idx].copy()
        perturb = np.asarray(buf_r) > 0
        if perturb.any():
            emb[perturb] += rng.normal(0.0, sigma, size=(int(perturb.sum()), dim)).astype("float32")
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        out = (list(buf_ids), list(buf_texts), list(buf_meta), emb, idx, np.asarray(buf_r))
        for b in (buf_ids, buf_texts, buf_meta, buf_idx, buf_r):
            b.clear()
        return out

    for k in range(n):
        r, i = divmod(k, size)
        shift = ((r * 5) % 11) - 5 if r else 0
        text = pool.texts[i]
        if r:
            text = names.rename(text, r)
            if shift:
                text = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), text)
        buf_ids.append(pool.ids[i] if r == 0 else hashlib.sha256(f"{pool.ids[i]}:{r}".encode()).hexdigest()[:32])
        buf_texts.append(text)
        buf_meta.append(pool.metadatas[i] if r == 0 else _shift_year_meta(pool.metadatas[i], shift, names, r))
        buf_idx.append(i)
        buf_r.append(r)
        if len(buf_ids) >= batch:
            yield flush()
    if buf_ids:
        yield flush()


def queries(n: int, seed: int = 5, replicas: int = 1) -> list[str]:
    """Benchmark questions naming people, places and dates that occur in the corpus."""
    gen_names = NameBank()
    rng = random.Random(seed)
    gen = CorpusGenerator()
    templates = [
        "When did {p} visit {c}?",
        "What did {p} say about {c} and {k}?",
        "Why did {f} {p} travel to {city} in {month} {year}?",
        "What was agreed between {c} and {k} on security?",
        "Who met {p} in {city}?",
        "What did the foreign ministers discuss in {month} {year}?",
        "How does {c} describe the union state with {k}?",
        "What happened at the meeting in {city} on {day} {month}?",
    ]
    out = []
    for i in range(n):
        cast = gen.names.cast(random.Random(gen.seed * 1_000_003 + rng.randrange(200)))
        r = rng.randrange(max(1, replicas))
        fill = {"p": cast["Lavrov"], "f": cast["Sergey"], "c": cast["Belarus"], "k": cast["Russia"],
                "city": cast["Minsk"], "month": rng.choice(MONTHS), "year": rng.randint(2014, 2025),
                "day": rng.randint(1, 28)}
        q = templates[i % len(templates)].format(**fill)
        out.append(gen_names.rename(q, r))
    return out
