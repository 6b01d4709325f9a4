"""Turn eval answer dumps into verifier cases to label by hand (see evals/test_verifier.py).

    python evals/label_cases.py evals/artifacts/answers.jsonl [...] --out cases-to-label.jsonl

Each sentence the model wrote (refusals and remarks about the question left out) becomes one case
with the question, the passages the model was shown and ``"supported": null``. A labeller sets
``supported`` to true when everything the sentence states is stated by the shown passages (which
passage it cites does not matter: the verifier chooses citations), false otherwise, and may add a
``note``. Labelled cases are appended to evals/verifier_cases.jsonl.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.verify import is_meta, is_refusal, split_sentences, strip_citations  # noqa: E402


def cases_from(answers: list[dict]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for a in answers:
        for sentence in split_sentences(a.get("raw") or ""):
            plain = strip_citations(sentence)
            if not plain or is_refusal(plain) or is_meta(plain):
                continue
            key = hashlib.sha256(f"{a['corpus']}\0{a['question']}\0{plain}".encode()).hexdigest()[:12]
            if key in seen:
                continue
            seen.add(key)
            out.append({"id": f"{a['corpus']}-{a['qid']}-{key[:6]}", "corpus": a["corpus"], "split": a["split"],
                        "qid": a["qid"], "question": a["question"], "sentence": sentence,
                        "evidence": a["evidence"], "supported": None})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("answers", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    answers = [json.loads(line) for p in args.answers for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = cases_from(answers)
    args.out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    print(f"{len(cases)} cases from {len(answers)} answers -> {args.out}")


if __name__ == "__main__":
    main()
