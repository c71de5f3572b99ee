"""The pipeline's retrieval passes on a corpus written for this test: documents ranked by their
chunks' total score, the best ones handed on whole, a follow-up pass asked with a found record's
words, and no passage twice."""

from __future__ import annotations

from baton.runners.retrieval import (Chunk, bm25_retriever, combine_passes, rank_documents, ranked_doc_ids,
                                     record_query, with_whole_documents)
from baton.task import Document

FILLER = " ".join(f"paragraph{i} of general remarks about the observatory" for i in range(30))
DOCS = [
    Document(id="visiting-hours", title="Visiting the observatory",
             text=f"Visitors may book a telescope session online. {FILLER} "
                  "Sessions last ninety minutes and start at dusk."),
    Document(id="nebula-tier", title="Nebula membership benefits",
             text=f"{FILLER} Nebula members get four free telescope sessions per quarter "
                  "and a refund within 11 working days."),
    Document(id="comet-tier", title="Comet membership benefits",
             text=f"{FILLER} Comet members pay per session; refunds take 30 working days."),
]


def test_documents_rank_by_the_total_score_of_their_chunks() -> None:
    chunks = [Chunk("a", "x", 3.0), Chunk("b", "y", 2.0), Chunk("b", "z", 2.0), Chunk("c", "w", 0.5)]
    assert rank_documents(chunks) == ["b", "a", "c"]
    assert ranked_doc_ids(chunks) == ["a", "b", "c"]  # the per-chunk order stays available


def test_the_best_documents_go_on_whole_and_the_rest_as_chunks() -> None:
    chunks = [Chunk("visiting-hours", "Visiting the observatory: Visitors may book", 5.0),
              Chunk("nebula-tier", "Nebula membership benefits: paragraph3", 4.0),
              Chunk("elsewhere", "a passage from an external index", 3.0),
              Chunk("visiting-hours", "Visiting the observatory: Sessions last", 2.0)]
    passed = with_whole_documents(chunks, DOCS, ["visiting-hours", "elsewhere"])
    assert [c.doc_id for c in passed] == ["visiting-hours", "nebula-tier", "elsewhere"]
    whole = passed[0]
    assert whole.whole and whole.score == 5.0 and "ninety minutes" in whole.text and "book" in whole.text
    assert not passed[1].whole and passed[2].text == "a passage from an external index"  # never expanded


def test_a_follow_up_pass_adds_only_what_earlier_passes_missed() -> None:
    first = [Chunk("visiting-hours", "whole text", 1.0, whole=True), Chunk("nebula-tier", "n1", 0.5)]
    second = [Chunk("visiting-hours", "a window of it", 2.0), Chunk("nebula-tier", "n1", 0.4),
              Chunk("nebula-tier", "n2", 0.3), Chunk("comet-tier", "c1", 0.2)]
    assert [(c.doc_id, c.text) for c in combine_passes([first, second])] == [
        ("visiting-hours", "whole text"), ("nebula-tier", "n1"), ("nebula-tier", "n2"), ("comet-tier", "c1")]


def test_a_records_words_reach_the_policy_the_request_never_names() -> None:
    retriever = bm25_retriever(DOCS, {})
    request = "I booked a telescope session for tonight and cannot come. How long does my refund take?"
    first = rank_documents(retriever.retrieve(request, 6))
    record = {"id": "MB-7731", "member_tier": "Nebula", "sessions": [{"date": "2031-02-03", "paid": False}],
              "active": True, "notes": None}
    query = record_query([record])
    assert query == "id MB-7731 member tier Nebula sessions date 2031-02-03 paid active notes"
    follow_up = rank_documents(retriever.retrieve(query, 4))
    assert follow_up[0] == "nebula-tier"
    assert first[0] != "nebula-tier"  # the request alone points elsewhere
