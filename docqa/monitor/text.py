"""Toxicity and sentiment of questions and answers, from offline lexicons shipped inside their
wheels (better-profanity's word list, VADER's sentiment lexicon): no model, no download."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[\w'*@$!]+")


@lru_cache(maxsize=1)
def _profanity():
    from better_profanity import profanity

    profanity.load_censor_words()
    return profanity


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def toxic_words(text: str) -> list[str]:
    """The words of `text` on the profanity list (leetspeak included)."""
    checker = _profanity()
    return [w for w in _WORD.findall(text) if checker.contains_profanity(w)]


def sentiment(text: str) -> float:
    """VADER's compound score, from -1 (most negative) to 1 (most positive)."""
    return float(_vader().polarity_scores(text)["compound"])
