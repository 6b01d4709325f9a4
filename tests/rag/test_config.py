"""Settings: the knobs that moved into it (briefings, the refusal's quote, the cache folder, the
servers' secrets) keep their old defaults, come from RAG_* variables like every other, and are validated."""
from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings


def test_moved_knobs_keep_their_defaults():
    s = Settings()
    assert (s.brief_max_bullets, s.brief_passages_per_doc, s.brief_max_sections) == (10, 3, 6)
    assert (s.brief_doc_min_lexical, s.brief_year_window_days, s.brief_quote_chars) == (0.5, 60, 160)
    assert (s.quote_passages, s.quote_min_support) == (3, 0.3)
    assert s.cache_dir is None and s.auth is None and s.api_key is None


def test_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("RAG_AUTH", "ann:secret")
    monkeypatch.setenv("RAG_API_KEY", "k3y")
    monkeypatch.setenv("RAG_BRIEF_MAX_BULLETS", "4")
    monkeypatch.setenv("RAG_QUOTE_MIN_SUPPORT", "0.4")
    s = Settings.from_env()
    assert s.model_cache_dir == tmp_path / "rag-briefing"
    assert (s.auth, s.api_key, s.brief_max_bullets, s.quote_min_support) == ("ann:secret", "k3y", 4, 0.4)
    assert "secret" not in repr(s) and "k3y" not in repr(s)  # secrets stay out of logs and tracebacks


def test_cache_dir_falls_back_to_the_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("RAG_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings.from_env().model_cache_dir == tmp_path / "rag-briefing"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert Settings.from_env().model_cache_dir == Path.home() / ".cache" / "rag-briefing"


@pytest.mark.parametrize("change", [
    {"brief_max_bullets": 0}, {"brief_passages_per_doc": 0}, {"brief_max_sections": 0}, {"brief_quote_chars": 0},
    {"brief_doc_min_lexical": 1.5}, {"brief_year_window_days": -1}, {"quote_passages": 0},
    {"quote_min_support": -0.1}, {"auth": "nopassword"}, {"auth": ":secret"}, {"api_key": "  "},
    {"encoder": "word2vec"},
])
def test_invalid_values_are_refused(change):
    with pytest.raises(ValueError):
        Settings().with_(**change)


def test_rag_chat_takes_its_password_from_the_settings(cli, monkeypatch, tmp_path):
    """RAG_AUTH is read by Settings (no click envvar of its own); --auth overrides it; a malformed
    flag is refused as before (exit 1), before anything is served."""
    served = []
    monkeypatch.setattr("rag.app.serve", lambda settings, **kw: served.append((settings.auth, kw["host"])))
    store = tmp_path / "store"
    result = cli("chat", "--store", store, "--host", "0.0.0.0", "--no-ingest-seeds", env={"RAG_AUTH": "ann:secret"})
    assert result.exit_code == 0, result.output
    result = cli("chat", "--store", store, "--auth", "bob:pw", "--no-ingest-seeds", env={"RAG_AUTH": "ann:secret"})
    assert result.exit_code == 0, result.output
    assert served == [("ann:secret", "0.0.0.0"), ("bob:pw", "127.0.0.1")]
    result = cli("chat", "--store", store, "--auth", "nopassword", "--no-ingest-seeds")
    assert result.exit_code == 1 and "USER:PASSWORD" in result.output and len(served) == 2


def test_a_bool_setting_reads_its_environment_variable(monkeypatch):
    monkeypatch.setenv("RAG_BRIEF_FILL_QUOTES", "0")
    assert Settings.from_env().brief_fill_quotes is False
    monkeypatch.setenv("RAG_BRIEF_FILL_QUOTES", "true")
    assert Settings.from_env().brief_fill_quotes is True
    monkeypatch.setenv("RAG_BRIEF_FILL_QUOTES", "maybe")
    with pytest.raises(ValueError, match="RAG_BRIEF_FILL_QUOTES"):
        Settings.from_env()
