"""The package layers hold: the import-linter contracts of pyproject.toml ([tool.importlinter]),
checked on the import graph of rag/ and ingest/ as grimp builds it from the source.

The contracts are checked here in-process (the contract classes import-linter runs, on a grimp graph
built like its own), so that the same graph with one import added shows that a back-import or a
cycle would break them; `.venv/bin/lint-imports` prints the same verdicts as a report.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract, ContractCheck

from rag.config import PROJECT_ROOT

PYPROJECT = PROJECT_ROOT / "pyproject.toml"
CONFIG = read_configuration(str(PYPROJECT))
ROOT_PACKAGES: list[str] = CONFIG["session_options"]["root_packages"]
CONTRACT_TYPES: dict[str, type[Contract]] = {"layers": LayersContract, "acyclic_siblings": AcyclicSiblingsContract}
OPTIONS: dict[str, dict[str, Any]] = {c["id"]: c for c in CONFIG["contracts_options"]}


def graph() -> grimp.ImportGraph:
    """A fresh graph each time (a test adds imports to its own); no cache: always the files as they are."""
    return grimp.build_graph(*ROOT_PACKAGES, cache_dir=None)


def check(contract_id: str, g: grimp.ImportGraph) -> ContractCheck:
    options = OPTIONS[contract_id]
    contract = CONTRACT_TYPES[options["type"]](name=options["name"], session_options=CONFIG["session_options"],
                                              contract_options=options)
    return contract.check(g, verbose=False)


def violations(result: ContractCheck) -> list[str]:
    """The broken rules as "importer -> imported (via a -> b -> c)" lines: the test failure says which."""
    lines = []
    for dep in result.metadata.get("invalid_dependencies", []):
        routes = "; ".join(" -> ".join([link["importer"] for link in r["chain"]] + [r["chain"][-1]["imported"]])
                           for r in dep["routes"])
        lines.append(f"{dep['importer']} may not import {dep['imported']} (via {routes})")
    for package, breakers in result.metadata.get("cycle_breakers_by_package", {}).items():
        lines += [f"cycle in {package}: {a} -> {b}" for a, b in sorted(breakers)]
    return lines


def test_contracts_are_configured():
    assert set(OPTIONS) == {"layers", "ingest-layers", "web-layers", "no-cycles"}
    assert set(ROOT_PACKAGES) == {"rag", "ingest"}


@pytest.mark.parametrize("contract_id", sorted(OPTIONS))
def test_contract_is_kept(contract_id):
    result = check(contract_id, graph())
    assert result.kept, "\n".join([f"contract {contract_id!r} broken:"] + violations(result))


def _layer_modules(contract_id: str) -> list[str]:
    return [m.strip() for layer in OPTIONS[contract_id]["layers"] for m in re.split(r"[|:]", layer)]


def test_every_module_has_a_layer():
    """A new module must be given its place: otherwise the contracts would not see its imports at all."""
    g = graph()
    placed = _layer_modules("layers")
    loose = sorted(m for m in g.modules
                   if m not in ROOT_PACKAGES and not any(m == p or m.startswith(p + ".") for p in placed))
    assert loose == [], f"modules in no layer of [tool.importlinter] 'layers': {loose}"
    for contract_id, package in (("ingest-layers", "ingest"), ("web-layers", "rag.web")):
        inside = {m for m in g.modules if m.startswith(package + ".")}
        assert inside == set(_layer_modules(contract_id)), f"{contract_id} must list every module of {package}"


# One import added to the real graph, from a lower layer to a higher one (or closing a loop), each as a
# new engineer might write it: the contract that forbids it must say so, naming the two modules.
BACK_IMPORTS = [
    ("layers", "rag.dates", "rag.answer"),        # the bottom layer reaching up to the chains
    ("layers", "ingest.metadata", "rag.retrieve"),  # ingest back into retrieval (it once imported rag.*)
    ("layers", "rag.config", "rag.embed"),        # config importing the encoders to validate a name
    ("layers", "rag.verify", "rag.select"),       # a cycle: select imports verify
    ("no-cycles", "rag.verify", "rag.select"),
    ("ingest-layers", "ingest.split", "ingest.pipeline"),
    ("web-layers", "rag.web.render", "rag.web.chat"),
]


@pytest.mark.parametrize(("contract_id", "importer", "imported"), BACK_IMPORTS)
def test_a_back_import_breaks_the_contract(contract_id, importer, imported):
    g = graph()
    assert check(contract_id, g).kept
    g.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    result = check(contract_id, g)
    assert not result.kept
    found = "\n".join(violations(result))
    assert importer in found and imported in found, found


def _lint_imports() -> str | None:
    exe = Path(sys.executable).with_name("lint-imports")
    return str(exe) if exe.exists() else shutil.which("lint-imports")


@pytest.mark.skipif(_lint_imports() is None, reason="lint-imports not installed")
def test_lint_imports_fails_on_a_copy_with_one_bad_import(tmp_path):
    """End to end, as `lint-imports` runs: the real tree passes; a copy of it with one upward import
    added to rag/dates.py fails, and the report names the import."""
    def run(root: Path) -> subprocess.CompletedProcess:
        return subprocess.run([_lint_imports(), "--config", str(root / "pyproject.toml"), "--no-cache"],
                              cwd=root, capture_output=True, text=True, timeout=120,
                              env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"})

    for part in ("rag", "ingest"):
        shutil.copytree(PROJECT_ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    ok = run(tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    dates = tmp_path / "rag" / "dates.py"
    dates.write_text(dates.read_text() + "\n\ndef _bad() -> None:\n    from rag.answer import Answerer  # noqa: F401\n")
    bad = run(tmp_path)
    assert bad.returncode != 0
    assert "rag.dates is not allowed to import rag.answer" in bad.stdout, bad.stdout
