"""All tunable settings in one place.

Values come from defaults here, overridden by environment variables (``RAG_*``) and then by
explicit keyword arguments (the CLI passes its flags this way). Chunking and retrieval knobs
were chosen by running ``pytest evals/``; see ``evals/report.md`` for the figures.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from rag.access import parse_auth

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The sentence encoders a store can be built with (rag/embed.py builds them). Listed here, at the bottom
# layer, so that validate() checks a name without importing the embedding code.
ENCODERS: tuple[str, ...] = ("onnx-int8", "torch-fp32")


# Set by the entry points (the `rag` command group, the web app's build_app/serve/launch, the test and
# eval sessions, the benchmarks), never by an import: several libraries read these once, when they are
# first imported (huggingface_hub: HF_HUB_OFFLINE; gradio imports huggingface_hub), so an entry point
# calls offline_environment() before anything imports gradio, chromadb, transformers or
# sentence-transformers (all are imported lazily, inside the functions that use them).
OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def offline_environment() -> None:
    """Keep every library off the network: no hub downloads, no telemetry.

    Sets each variable of :data:`OFFLINE_ENV` unless the environment already gives it a value.
    Idempotent; the entry points call it first (see above).
    """
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


@dataclass(frozen=True)
class Settings:
    """Configuration of the whole pipeline (ingest, retrieval, generation)."""

    # --- storage
    store_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "data" / "store")
    chroma_url: str | None = None  # e.g. http://127.0.0.1:8000 for a `chroma run` server
    collection: str = "documents"

    # --- ingest
    chunk_size: int = 700  # characters; 500 lost dev fact pass on both corpora (README, "split")
    chunk_overlap: int = 120
    # a chunk shorter than this (a title and dateline, a paragraph's last sentence) is joined to its
    # neighbour (ingest/split.py: _merge_small); 0 keeps every chunk the splitter makes. Off: at 100 it
    # gained test questions but lost briefing facts (README, "split")
    min_chunk_chars: int = 0
    max_file_bytes: int = 20 * 1024 * 1024  # larger files are refused with a clear message
    embed_batch_size: int = 32
    # None: a new store gets rag.embed.DEFAULT_ENCODER (onnx-int8), an existing one keeps the encoder it
    # records. Naming one (onnx-int8 | torch-fp32) for an existing store built with the other is an error.
    encoder: str | None = None
    # `rag ingest --watch` (ingest/watch.py): a new or changed file is ingested once its size and mtime
    # have not changed for this long, so that a file still being written is not ingested half-written;
    # a deleted file is removed after the same wait (an editor that saves by delete + create is no removal).
    watch_settle_ms: int = 1000
    # watchfiles' debounce: changes arriving within this window are taken together
    watch_debounce_ms: int = 500

    # Where the assembled GGUF and the int8 ONNX encoder are cached (RAG_CACHE_DIR), in a "rag-briefing"
    # folder under it; None: $XDG_CACHE_HOME, else ~/.cache (see model_cache_dir).
    cache_dir: Path | None = None

    # --- retrieval
    # Passages shown to the model. 4 rather than 5, measured with the evals: fact pass 0.656 -> 0.705,
    # generation 23.0 -> 17.3 s per question (prompt processing is most of it), recall@k 0.972 -> 0.949.
    # 3 was measured on dev and dropped (README, "retrieve").
    top_k: int = 4
    candidates: int = 20  # per retriever before fusion
    rrf_k: int = 60  # reciprocal rank fusion constant
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    # at most this many of the top_k passages come from one document (0: no cap); see rag/retrieve.py.
    # 3 was measured on dev and dropped (README, "retrieve").
    max_per_source: int = 2
    time_boost: float = 0.5  # added RRF mass for passages matching a year/month named in the question
    # Sentences of each passage shown to the model (rag/select.py): the best by the question's words,
    # plus the one before when it starts "He said"/a quote; 0 shows whole passages. Fewer prompt tokens
    # (seed dev questions, median: 707 whole, 542 with 2, 398 with 1) but lower fact pass on the dev split
    # (questions q01-q35: 28 pass whole, 26 with 2; q01-q20: 17 whole, 13 with 1): the answer often stands
    # in a sentence that shares no word with the question. So off by default; a speed knob for users.
    sentences_per_passage: int = 0
    min_score: float = 0.25  # below this best dense cosine similarity the question is refused unasked

    # --- generation
    llm: str = "local"  # local | gguf:/path.gguf | openai:MODEL
    n_threads: int = 2
    n_ctx: int = 4096
    n_batch: int = 512
    max_tokens: int = 256
    support_threshold: float = 0.5  # share of a sentence's new content words found in its cited passages
    max_cited: int = 3  # passages one answer sentence may rest on, one per claim (rag/verify.py: ground)
    # the new names and numbers a cited passage holds must stand within this many consecutive sentences of it
    support_window: int = 3
    # When nothing the model wrote is supported, the closest evidence sentence is quoted as the answer
    # (not a refusal) if it holds every name and number of the question and this share of its content
    # words; below it the quote only accompanies a refusal. 1.01 turns quoting-as-answer off.
    extract_min_support: float = 0.75
    # The refusal's "closest passage" quote (rag/answer.py: Answerer.closest_evidence) is sought among
    # the first this many retrieved passages, and only a sentence scoring at least quote_min_support
    # (the share of the question's words it holds: Answerer._best_sentence) is quoted; below it the
    # refusal stands bare. 3 and 0.3 as they were hard-coded there.
    quote_passages: int = 3
    quote_min_support: float = 0.3

    # --- briefings and timelines (rag/brief.py)
    brief_max_bullets: int = 10  # bullets in one briefing, taken round-robin over its documents
    # a topic briefing whose model-written bullets leave room fills it with the documents' own sentences
    # on the topic, quoted (rag/brief.py: topic_quotes)
    brief_fill_quotes: bool = True
    brief_passages_per_doc: int = 3  # passages of one document mapped to its bullets (and per timeline section)
    brief_max_sections: int = 6  # main events asked of one undated document (one model call each)
    # A topic briefing maps a document only if its best BM25 score for the topic reaches this share of the
    # best document's. Dense similarity cannot choose: every seed scores 0.6-0.8 on every topic (news on
    # one subject), while the topic's names and places (Ryzhenkov, Brest, Iskander) are rare words that
    # BM25 weighs. 0.5 was read off the eval topics' scores (in-sample; see the commit measuring it).
    brief_doc_min_lexical: float = 0.5
    # a yearless date in a dated document takes a year only if it falls within this many days of its date
    brief_year_window_days: int = 60
    brief_quote_chars: int = 160  # characters of each cited passage quoted under its document in the sources

    # --- access (`rag chat`, `rag serve`): secrets, so kept out of repr(); off loopback each is required
    # (rag/access.py, rag/serve.py). auth: USER:PASSWORD for the web app (RAG_AUTH, --auth);
    # api_key: the Bearer key of the OpenAI-compatible API (RAG_API_KEY, --api-key).
    auth: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)

    # --- serve (`rag serve`, rag/serve.py): limits on one chat completion request; larger ones get a 400
    serve_max_messages: int = 64  # messages in one request (the question plus the history before it)
    serve_max_message_chars: int = 8000  # characters of text in one message

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults, then ``RAG_<FIELD>`` environment variables, then non-None ``overrides``."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"RAG_{f.name.upper()}")
            if raw is None and f.name == "store_dir":
                raw = os.environ.get("RAG_STORE")
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "store_dir" in values:
            values["store_dir"] = Path(values["store_dir"]).expanduser()  # type: ignore[arg-type]
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    @property
    def model_cache_dir(self) -> Path:
        """The folder of the cached model files: ``<cache_dir>/rag-briefing``; with no cache_dir set,
        under $XDG_CACHE_HOME or ~/.cache (read here, when asked: the XDG variable is not ours)."""
        base = self.cache_dir or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "rag-briefing"

    def with_(self, **changes: object) -> "Settings":
        new = replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> None:
        """Raise ValueError naming the first setting that makes no sense."""
        if self.chunk_size < 100:
            raise ValueError(f"chunk_size must be >= 100, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ValueError("chunk_overlap must be >= 0 and smaller than chunk_size")
        if not 0 <= self.min_chunk_chars < self.chunk_size:
            raise ValueError(f"min_chunk_chars must be >= 0 and smaller than chunk_size, got {self.min_chunk_chars}")
        if self.top_k < 1 or self.candidates < self.top_k:
            raise ValueError("need 1 <= top_k <= candidates")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError("min_score must be within [0, 1]")
        if self.encoder is not None and self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if self.max_per_source < 0:
            raise ValueError("max_per_source must be >= 0 (0: no cap)")
        if self.sentences_per_passage < 0:
            raise ValueError("sentences_per_passage must be >= 0 (0: whole passages)")
        if self.max_cited < 1 or self.support_window < 1:
            raise ValueError("max_cited and support_window must be >= 1")
        if self.n_threads < 1:
            raise ValueError("n_threads must be >= 1")
        if self.watch_settle_ms < 0 or self.watch_debounce_ms < 1:
            raise ValueError("watch_settle_ms must be >= 0 and watch_debounce_ms >= 1")
        if self.serve_max_messages < 1 or self.serve_max_message_chars < 1:
            raise ValueError("serve_max_messages and serve_max_message_chars must be >= 1")
        if self.quote_passages < 1 or not 0.0 <= self.quote_min_support <= 1.0:
            raise ValueError("quote_passages must be >= 1 and quote_min_support within [0, 1]")
        if min(self.brief_max_bullets, self.brief_passages_per_doc, self.brief_max_sections, self.brief_quote_chars) < 1:
            raise ValueError("brief_max_bullets, brief_passages_per_doc, brief_max_sections and brief_quote_chars "
                             "must be >= 1")
        if not 0.0 <= self.brief_doc_min_lexical <= 1.0 or self.brief_year_window_days < 0:
            raise ValueError("brief_doc_min_lexical must be within [0, 1] and brief_year_window_days >= 0")
        parse_auth(self.auth)  # ValueError unless None or USER:PASSWORD
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key must not be blank")


def _coerce(type_name: object, raw: str, name: str) -> object:
    t = str(type_name)
    if t.startswith("bool"):
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"environment variable RAG_{name.upper()}={raw!r} is not a valid bool (1/0, true/false)")
    try:
        if t.startswith("int"):
            return int(raw)
        if t.startswith("float"):
            return float(raw)
        if "Path" in t:
            return Path(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable RAG_{name.upper()}={raw!r} is not a valid {t}") from exc
    return raw
