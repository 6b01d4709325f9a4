"""Prompt files: sections become chat messages, worked examples stay in the fixed prefix."""
import pytest

from rag.prompts import load_prompt


def test_sections_become_messages_in_file_order(tmp_path):
    (tmp_path / "demo.md").write_text(
        "# demo\n=== system ===\nBe brief.\n=== user ===\nQ: two plus two?\n=== assistant ===\nFour.\n"
        "=== user ===\n{passages}\n\nQuestion: {question}\n", encoding="utf-8")
    messages = load_prompt("demo", tmp_path).format_messages(passages="[1] P", question="why?")
    assert [(m.type, m.content) for m in messages] == [
        ("system", "Be brief."), ("human", "Q: two plus two?"), ("ai", "Four."),
        ("human", "[1] P\n\nQuestion: why?")]


def test_a_file_without_sections_is_a_clear_error(tmp_path):
    (tmp_path / "bare.md").write_text("just text {question}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bare.md: no '=== system ==='"):
        load_prompt("bare", tmp_path)


def test_the_answer_prompt_keeps_its_fixed_part_before_the_passages():
    """Everything before the last user turn is the same for every question (llama.cpp reuses its KV state)."""
    a = load_prompt("answer").format_messages(passages="[1] A", question="one?", note="")
    b = load_prompt("answer").format_messages(passages="[1] B", question="two?", note="")
    assert a[:-1] == b[:-1] and a[-1] != b[-1]
    assert a[-1].type == "human" and a[-1].content.startswith("[1] A")
