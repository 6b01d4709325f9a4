"""Probe: can the default model judge support? P("Yes") of a yes/no question per labelled verifier case.

An experiment, not part of ``pytest evals/`` (it takes ~10 min per split on two cores). For each case of
``evals/verifier_cases.jsonl`` the model gets the answer prompt's system text and passages (so that, in
the product, the check would reuse the answer's KV prefix and cost ~50 prompt tokens a sentence), then a
yes/no question about the sentence; the probability of "Yes" against "No" at the first generated token
is read with a logits processor (llama-cpp-python's public ``logits_processor`` hook, no ``logits_all``).
It prints precision/recall of the judge alone and combined with the lexical verifier, and the ROC AUC.

    .venv/bin/python evals/probe_llm_judge.py --variant a --split dev

Measured 2026-12-02 (dev split, 174 cases; lexical verifier P 0.712 R 0.940): the judge cannot tell
supported from unsupported sentences: AUC 0.69 (variant a, statement only) and 0.60 (variant b, with
the question); median P(yes) 0.88 vs 0.85 (a). The best combination on dev, lexical AND P(yes) >= 0.8,
gave P 0.743 R 0.929 (a), and a rescue of lexically dropped sentences (P(yes) >= 0.9) P 0.690 R 0.952:
no gain worth a model call per sentence, so the judge was not built into the product.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

EVALS = Path(__file__).resolve().parent
sys.path[:0] = [str(EVALS.parent), str(EVALS)]

from rag.assets import gguf_path  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.llm import _load_llama  # noqa: E402
from rag.prompts import load_prompt  # noqa: E402
from rag.verify import ground, strip_citations  # noqa: E402
from test_verifier import kept_as_written, load_cases  # noqa: E402

QUESTIONS = {
    "a": "Statement: {s}\n\nIs everything this statement says (who, what, where, when, how many) stated in the "
         "passages above? Answer Yes or No.",
    "b": "Question: {q}\nProposed answer: {s}\n\nIs everything the proposed answer says (who, what, where, when, "
         "how many) stated in the passages above? Answer Yes or No.",
}
_HEADER = re.compile(r'^(\[\d+\] .*? — ".*?" \([^)]*\)) ')


def prompt_passages(evidence: dict[str, str]) -> str:
    """The passages as the answer prompt shows them (header line, then text) from a case's evidence."""
    blocks = []
    for n in sorted(evidence, key=int):
        m = _HEADER.match(evidence[n])
        blocks.append(m.group(1) + "\n" + evidence[n][m.end():] if m else evidence[n])
    return "\n\n".join(blocks)


def judge_cases(cases: list[dict], variant: str) -> list[float]:
    """P(Yes) / (P(Yes) + P(No)) per case, in order (cases sorted by passages share the KV prefix)."""
    s = Settings.from_env()
    llama = _load_llama(str(gguf_path(settings=s)), s.n_ctx, s.n_threads, s.n_batch)
    system = load_prompt("answer").messages[0].prompt.template
    first = lambda w: llama.tokenize(w.encode(), add_bos=False, special=False)[0]  # noqa: E731
    yes = {first(w) for w in ("Yes", "yes", " Yes", " yes", "YES")}
    no = {first(w) for w in ("No", "no", " No", " no", "NO")}
    scores, t0 = [], time.time()
    for i, c in enumerate(cases):
        seen: dict[str, tuple[float, float]] = {}

        def record(_ids, logits):
            if "p" not in seen:
                x = np.exp(logits.astype(np.float64) - logits.max())
                seen["p"] = (float(sum(x[j] for j in yes)), float(sum(x[j] for j in no)))
            return logits

        user = prompt_passages(c["evidence"]) + "\n\n" + QUESTIONS[variant].format(
            s=strip_citations(c["sentence"]), q=c["question"])
        llama.create_chat_completion(messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                                     max_tokens=1, temperature=0.0, top_k=1, logits_processor=[record])
        py, pn = seen["p"]
        scores.append(py / (py + pn + 1e-12))
        if i % 20 == 0:
            print(f"{i}/{len(cases)} cases, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return scores


def _pr(rows: list[dict], keep) -> str:
    tp = sum(1 for r in rows if r["supported"] and keep(r))
    fp = sum(1 for r in rows if not r["supported"] and keep(r))
    fn = sum(1 for r in rows if r["supported"] and not keep(r))
    return f"P {tp / (tp + fp) if tp + fp else 0:.3f} R {tp / (tp + fn) if tp + fn else 0:.3f} (false keeps {fp}, false drops {fn})"


def _auc(rows: list[dict]) -> float:
    pos = [r["score"] for r in rows if r["supported"]]
    neg = [r["score"] for r in rows if not r["supported"]]
    if not pos or not neg:
        return float("nan")
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=sorted(QUESTIONS), default="a")
    ap.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    ap.add_argument("--limit", type=int, default=0, help="only the first N cases (a quick check)")
    args = ap.parse_args()
    settings = Settings.from_env()
    threshold = settings.support_threshold
    cases = sorted((c for c in load_cases() if args.split == "all" or c["split"] == args.split),
                   key=lambda c: json.dumps(c["evidence"], sort_keys=True))[:args.limit or None]
    rows = []
    for c, score in zip(cases, judge_cases(cases, args.variant)):
        evidence = {int(n): t for n, t in c["evidence"].items()}
        found = not ground(strip_citations(c["sentence"]), evidence, c["question"],
                           max_cited=settings.max_cited, window=settings.support_window).unfound
        rows.append({"supported": c["supported"], "score": score, "lexical": kept_as_written(c, threshold)[0], "found": found})
    print(f"cases {len(rows)}; AUC {_auc(rows):.3f}; AUC among lexically kept {_auc([r for r in rows if r['lexical']]):.3f}")
    for label in (True, False):
        print(f"median P(yes), supported={label}: {statistics.median(r['score'] for r in rows if r['supported'] == label):.3f}")
    print("lexical verifier:", _pr(rows, lambda r: r["lexical"]))
    for t in (0.5, 0.8, 0.85, 0.9):
        print(f"judge >= {t}:", _pr(rows, lambda r, t=t: r["score"] >= t))
        print(f"lexical and judge >= {t}:", _pr(rows, lambda r, t=t: r["lexical"] and r["score"] >= t))
        print(f"lexical, or judge >= {t} with every name found:",
              _pr(rows, lambda r, t=t: r["lexical"] or (r["score"] >= t and r["found"])))


if __name__ == "__main__":
    main()
