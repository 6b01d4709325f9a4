"""Scale-out: the CLI against a real ``chroma run`` server (started here as a subprocess)."""
from __future__ import annotations

import json

import pytest
from rel_helpers import LAVROV_SEED, SEED_NAMES, SEEDS, VENV_BIN, free_port


@pytest.fixture
def chroma_url(start_server, tmp_path) -> str:
    """A fresh ``chroma run`` server on a free loopback port with its own data directory."""
    port = free_port()
    data = tmp_path / "chroma-data"
    server = start_server([str(VENV_BIN / "chroma"), "run", "--host", "127.0.0.1", "--port", str(port),
                           "--path", str(data)], name="chroma")
    url = f"http://127.0.0.1:{port}"
    took = server.wait_http(f"{url}/api/v2/heartbeat", timeout=60)
    print(f"chroma server pid {server.pid} answered its heartbeat after {took:.1f} s")
    yield url
    assert server.stop() is not None
    assert server.proc.poll() is not None, "the chroma server is still running"


def _sources(cli, url: str) -> list[dict]:
    res = cli("sources", "--json", "--chroma-url", url)
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


@pytest.fixture
def ingested_server(cli, chroma_url) -> str:
    res = cli("ingest", "--quiet", "--chroma-url", chroma_url, SEEDS)
    assert res.exit_code == 0, res.output
    assert "5 documents" in res.stdout and " 0 errors" in res.stdout
    return chroma_url


def test_ingest_and_list_on_a_chroma_server(cli, ingested_server, tmp_path):
    rows = _sources(cli, ingested_server)
    assert sorted(r["source"] for r in rows) == SEED_NAMES
    assert all(r["chunks"] > 0 and r["title"] for r in rows)
    # nothing went to a local directory store
    assert not (tmp_path / "data").exists()

    again = cli("ingest", "--quiet", "--chroma-url", ingested_server, SEEDS)
    assert again.exit_code == 0, again.output
    assert " 0 chunks added" in again.stdout and " 0 removed" in again.stdout
    assert _sources(cli, ingested_server) == rows


def test_unreachable_chroma_server_is_a_clear_error(cli):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    res = cli("sources", "--chroma-url", url)
    assert res.exit_code != 0 and isinstance(res.exception, SystemExit), res.output
    assert "cannot reach the Chroma server" in res.output and url in res.output
    assert "Traceback" not in res.output


@pytest.mark.model
def test_cited_answer_from_a_chroma_server(cli, ingested_server):
    res = cli("ask", "--json", "--chroma-url", ingested_server, "Where did Lavrov meet Maxim Ryzhenkov?")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(out, ensure_ascii=False, indent=1)[:1500])
    assert not out["refused"], out["answer"]
    assert "[1]" in out["answer"]
    assert LAVROV_SEED in {c["source"] for c in out["citations"]}
    assert "Brest" in out["answer"]
