"""evals/replay.py re-verifies recorded raw answers without the model: it must score a recorded
answer as the eval does, and leave out a question whose passages are not the recorded ones."""
from __future__ import annotations

from replay import replay


def _row(evidence: dict[str, str], raw: str) -> dict:
    return {"qid": "q01", "corpus": "seeds", "split": "dev", "question": "Where did Lavrov meet Maxim Ryzhenkov?",
            "raw": raw, "answer": "", "dropped": [], "evidence": evidence}


def test_replay_verifies_the_recorded_raw_answer_against_the_recorded_passages(tmp_path):
    # first pass: learn the passages retrieval gives (a row whose evidence differs is left out)
    scores, results, skipped = replay([_row({"1": "not what retrieval gives"}, "x")], tmp_path)
    assert skipped == ["q01"] and not scores and not results

    from rag.answer import Answerer, evidence_text
    from rag.config import Settings
    from rag.store import Store
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    settings = Settings.from_env(store_dir=tmp_path / "seeds", chroma_url="")
    answerer = Answerer(Store(settings), FakeListChatModel(responses=[]), settings)
    passages = answerer.retrieve("Where did Lavrov meet Maxim Ryzhenkov?").passages
    evidence = {str(n): evidence_text(n, p) for n, p in enumerate(passages, start=1)}
    n = next(k for k, text in evidence.items() if "Brest" in text and "Ryzhenkov" in text)

    scores, results, skipped = replay([_row(evidence, f"Lavrov met Maxim Ryzhenkov in Brest [{n}].")], tmp_path)
    assert not skipped and scores[0].passed and not results[0]["refused"]
    assert results[0]["answer"].startswith("Lavrov met Maxim Ryzhenkov in Brest [1]")
    # an invented place is dropped by the verifier: the replayed answer no longer states it
    scores, results, _ = replay([_row(evidence, f"Lavrov met Maxim Ryzhenkov in Vitebsk [{n}].")], tmp_path)
    assert "Vitebsk" not in results[0]["answer"]
