from rag.verify import citations_in, is_refusal, split_sentences, support, verify_answer

EVIDENCE = {
    1: '[1] "Lavrov Visit" (date: 22 November (year unknown); source: 000.txt) Sergey Lavrov met Belarusian Foreign Minister Maxim Ryzhenkov on Nov. 22 in the city of Brest.',
    2: '[2] "Press release" (date: 26 November 2020; source: 001.txt) Lavrov held talks with his Belarusian counterpart, Vladimir Makei, in Minsk.',
}


def test_sentence_split_keeps_abbreviations_and_moves_trailing_citations():
    text = "Lavrov met Ryzhenkov on Nov. 22 in Brest. [1] Mr. Lavrov also met Makei [2]."
    assert split_sentences(text) == ["Lavrov met Ryzhenkov on Nov. 22 in Brest. [1]", "Mr. Lavrov also met Makei [2]."]


def test_citation_forms():
    assert citations_in("a [1] b [2, 3][4]") == [1, 2, 3, 4]


def test_supported_sentence_is_kept_with_its_citation():
    v = verify_answer("Lavrov met Ryzhenkov in Brest [1].", EVIDENCE, 0.5)
    assert [(s.text, s.citations) for s in v.sentences] == [("Lavrov met Ryzhenkov in Brest.", [1])]
    assert not v.refused and not v.dropped


def test_invalid_citation_is_removed_and_sentence_repaired():
    v = verify_answer("Lavrov met Ryzhenkov in Brest [7].", EVIDENCE, 0.5)
    assert v.invalid_citations == [7]
    assert v.sentences[0].citations == [1] and v.sentences[0].repaired


def test_wrong_citation_is_repaired_to_the_supporting_passage():
    v = verify_answer("Lavrov held talks with Vladimir Makei in Minsk [1].", EVIDENCE, 0.5)
    assert v.sentences[0].citations == [2]


def test_unsupported_sentence_is_dropped():
    v = verify_answer("Lavrov met Ryzhenkov in Brest [1]. They ate borscht at a banquet in Vitebsk [1].", EVIDENCE, 0.5)
    assert [s.text for s in v.sentences] == ["Lavrov met Ryzhenkov in Brest."]
    assert v.dropped == ["They ate borscht at a banquet in Vitebsk [1]."]


def test_refusal_is_recognised():
    v = verify_answer("The documents do not say.", EVIDENCE, 0.5)
    assert v.refused and v.sentences[0].citations == []
    assert is_refusal("The provided passages do not mention the weather.")
    assert not is_refusal("Lavrov said the documents were prepared [1].")


def test_premise_correction_sentence_needs_no_citation():
    v = verify_answer("The premise is incorrect. Lavrov met Ryzhenkov in Brest, not Makei [1].", EVIDENCE, 0.5)
    assert not v.refused
    assert [s.citations for s in v.sentences] == [[], [1]]


def test_missing_name_or_number_means_no_support():
    assert support("Lavrov met Makei in Brest", EVIDENCE[1]) == 0.0
    assert support("Lavrov met Ryzhenkov on 23 November", EVIDENCE[1]) == 0.0
    # name variants and month abbreviations still match
    assert support("Sergei Lavrov met Ryzhenkov on 22 November", EVIDENCE[1]) > 0.7


def test_premise_conflict():
    from rag.verify import premise_conflict
    docs = {"a": EVIDENCE[1], "b": EVIDENCE[2]}
    assert premise_conflict("Why did Lavrov meet Makei in Brest?", docs) == ("Makei", "Brest")
    assert premise_conflict("Where did Lavrov meet Ryzhenkov?", docs) is None
    assert premise_conflict("Did Lavrov visit Tokyo?", docs) is None  # unknown names are left to the support check
    # months are dates, not names: a question may span two visits held in different documents
    two_visits = {"2020": "In November 2020 Lavrov met Makei in Minsk.", "2023": "Lavrov will come to Minsk on 19 January."}
    assert premise_conflict("What did Makei sign in November and what was planned for January?", two_visits) is None
    assert premise_conflict("What did Makei sign in Brest in November?", {**two_visits, "b": "Lavrov was in Brest."}) == ("Makei", "Brest")


def test_support_measure():
    assert support("Lavrov met Ryzhenkov in Brest", EVIDENCE[1]) == 1.0
    assert support("Putin flew to Vitebsk", EVIDENCE[1]) == 0.0


def test_body_sentences_cut_the_dateline_and_headline_glued_to_a_first_sentence():
    from rag.verify import body_sentences

    title = "Press release on Foreign Minister Sergey Lavrov’s visit to the Republic of Belarus"
    body = f"26 November 202018:51 {title} On November 25-26, Lavrov paid a working visit to Minsk. He met Makei."
    assert body_sentences(body, title) == ["On November 25-26, Lavrov paid a working visit to Minsk.", "He met Makei."]
    assert body_sentences(body)[0].startswith("26 November")  # without the title nothing is cut
