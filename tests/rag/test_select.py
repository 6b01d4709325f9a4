"""rag/select.py: which sentences of a passage the model is shown."""
import math

from rag.select import GAP, _weights, select_sentences
from rag.verify import content_words

BODY = ("The delegations met in the morning. Talks covered trade and energy. "
        "Ryzhenkov said the border with Poland was tense. He said new patrols began in May. "
        "Lunch followed at the residence.")


def test_the_sentence_holding_the_question_words_is_kept_and_gaps_are_marked():
    [sel] = select_sentences("What did Ryzhenkov say about the border with Poland?", [(BODY, None)], 1)
    assert sel.text == f"{GAP} Ryzhenkov said the border with Poland was tense. {GAP}"
    assert sel.kept == (2,) and sel.total == 5


def test_a_sentence_that_refers_back_brings_the_one_before_it():
    [sel] = select_sentences("When did the new patrols begin?", [(BODY, None)], 1)
    assert sel.kept == (2, 3)  # "He said ..." needs the sentence naming him
    assert "Ryzhenkov said" in sel.text and "patrols began in May" in sel.text


def test_zero_shows_the_whole_passage():
    [sel] = select_sentences("anything", [(BODY, None)], 0)
    assert sel.text == BODY and sel.kept == (0, 1, 2, 3, 4)


def test_a_word_every_passage_shares_weighs_less_than_a_rare_one():
    a = "Talks covered trade. The visit ended with a concert."
    b = "Talks covered energy prices. Officials discussed trade quotas for grain."
    sels = select_sentences("Which talks covered grain quotas?", [(a, None), (b, None)], 1)
    # "talks" and "covered" are in both passages; "grain"/"quotas" only in b's second sentence
    assert sels[1].kept == (1,)
    assert sels[0].kept == (0,)  # each passage keeps its best sentence even without a rare word


def test_a_headline_glued_to_the_first_sentence_is_dropped():
    body = "Big Title Here On Monday the ministers met in Minsk. They signed a plan."
    [sel] = select_sentences("Where did the ministers meet?", [(body, "Big Title Here")], 1)
    assert sel.text.startswith("On Monday the ministers met in Minsk.")


def test_a_question_word_weighs_the_log_inverse_of_the_sentences_holding_it():
    sentences = [["Talks covered trade.", "The visit ended with a concert."],
                 ["Talks covered energy prices.", "Officials discussed trade quotas for grain."]]
    asked = content_words("Which talks covered grain quotas in Minsk?")
    df = {**dict.fromkeys(content_words("talks covered"), 2), **dict.fromkeys(content_words("grain quotas"), 1),
          **dict.fromkeys(content_words("Minsk"), 0)}
    assert set(df) == asked
    assert _weights(asked, sentences) == {w: math.log(1.0 + 4 / (1.0 + df[w])) for w in asked}  # 4 sentences
    assert _weights(asked, []) == {w: math.log(2.0) for w in asked}  # no sentences: n counts as 1
