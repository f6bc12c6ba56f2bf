"""The name classifier's fast scorer adds up exactly the weights of the features it was
trained on (train_names.py reads ``features``; a request is scored by ``scores``)."""

from __future__ import annotations

import pytest

from sluicegate.detectors.pii import PiiDetector
from sluicegate.detectors.pii.names import NOT_BEFORE_RUN, RUN, lexicons
from sluicegate.detectors.pii.tagger import NameTagger, features, weights

TEXTS = [
    "Dear Dr. Anna van der Berg, thanks for the call from Rotterdam.",
    "Yesterday John Smith flew to New Zealand; Mrs. Okafor stayed in Lagos.",
    "Patient Zofia Kowalska (DOB 1981) lives in Kraków, Poland.",
    "The Kindle Paperwhite and the Echo Dot ship on Monday.",
    "Regards,\nPiet Janssen\nACME Holdings Ltd",
    "I met Jean-Luc O'Neill's sister at the Black Friday sale in Austin, Texas.",
]


@pytest.mark.parametrize("text", TEXTS)
def test_fast_scores_equal_the_trained_features_weights(text: str) -> None:
    tagger, w, lex = NameTagger(True, True), weights(), lexicons()
    checked = 0
    for m in RUN.finditer(text):
        start = m.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in NOT_BEFORE_RUN):
            continue
        fast = tagger.scores(text, start, m.group())
        for got, (s, e, feats) in zip(fast, features(text, start, m.group(), lex), strict=False):
            assert got[:2] == (s, e)
            assert len(set(feats)) == len(feats)  # training counts each feature once
            want_p = sum(w[f][0] for f in feats if f in w)
            want_l = sum(w[f][1] for f in feats if f in w)
            assert got[3] == pytest.approx(want_p) and got[4] == pytest.approx(want_l)
            checked += 1
    assert checked


def test_names_and_places_in_a_sentence() -> None:
    text = "Yesterday John Smith flew from Rotterdam to Kraków with Zofia Kowalska."
    spans = PiiDetector(["person", "location"]).find(text)
    found = [(text[p.start : p.end], p.entity) for p in spans]
    assert found == [("John Smith", "person"), ("Rotterdam", "location"),
                     ("Kraków", "location"), ("Zofia Kowalska", "person")]


def test_only_the_configured_name_entity_is_reported() -> None:
    text = "John Smith moved to Rotterdam."
    assert [p.entity for p in PiiDetector(["location"]).find(text)] == ["location"]
    assert [p.entity for p in PiiDetector(["person"]).find(text)] == ["person"]
