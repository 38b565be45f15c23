"""The normal form pymorphy3's best parse gives a lowercase word, for less than parse() costs.

`MorphAnalyzer.parse` runs every analyzer unit, builds a tag and a `Parse` per reading and
sorts the readings by P(tag | word), but the lemma needs only the first reading's normal
form. For a word the dictionary knows (most words), parse() stops after the dictionary and
the two initials units, which only read one-letter words; so the dictionary readings decide:
one normal form among them is the answer whatever the order, and only ambiguous words need
the probabilities, compared exactly as parse() sorts them (stable, highest first). Any other
word goes through parse() itself. tests/unit/classifier/test_classifier_morph.py compares
both on every token of the training corpus.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def morph_analyzer() -> Any:
    """The process-wide pymorphy3 analyzer, created on first use (~0.3 s, ~20 MB)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


def best_normal_form(word: str) -> str:
    """`morph_analyzer().parse(word)[0].normal_form` of a lowercase word of 2+ letters."""
    analyzer = morph_analyzer()
    dictionary = analyzer.dictionary
    readings = len(word) > 1 and dictionary.words.similar_items(word, analyzer.char_substitutes)
    if not readings or analyzer.prob_estimator is None:
        return str(analyzer.parse(word)[0].normal_form)
    build = dictionary.build_normal_form
    forms = [
        (fixed_word, para_id, idx, build(para_id, idx, fixed_word))
        for fixed_word, parses in readings
        for para_id, idx in parses
    ]
    first = forms[0][3]
    if all(form[3] == first for form in forms):
        return str(first)
    prob = analyzer.prob_estimator.p_t_given_w.prob
    tag_of = dictionary.build_tag_info
    probs = [prob(word, tag_of(para_id, idx)) for _, para_id, idx, _ in forms]
    if sum(probs) == 0:
        return str(first)  # parse() keeps the dictionary order then
    # sorted(..., reverse=True) is stable: the first reading with the highest probability.
    return str(forms[probs.index(max(probs))][3])
