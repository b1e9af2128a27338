"""Vietnamese/English strings, number formats and the probability scale."""
from __future__ import annotations

import math
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from khforecast.briefing.i18n import (
    PROBABILITY_SCALE,
    STRINGS,
    format_number,
    format_percent,
    format_signed,
    format_target_text,
    probability_words,
    t,
)
from khforecast.plan.catalog import load_catalog


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_docstring_examples_run():
    import doctest

    import khforecast.briefing.i18n

    result = doctest.testmod(khforecast.briefing.i18n)
    assert result.attempted >= 4 and result.failed == 0


def test_every_string_has_both_languages_with_the_same_placeholders():
    for key, (vi, en) in STRINGS.items():
        assert vi.strip() and en.strip(), key
        assert _fields(vi) == _fields(en), key


def test_vietnamese_strings_carry_diacritics():
    assert t("status.at_risk", "vi") == "Có nguy cơ"
    assert t("h.outlook_2030", "vi") == "Triển vọng đến năm 2030"
    assert t("h.outlook_2030", "en") == "Outlook to 2030"


def test_t_fills_fields_and_rejects_unknown_keys_and_languages():
    assert t("fig.target", "en", year=2030) == "2030 target"
    with pytest.raises(KeyError, match="no string 'nope'"):
        t("nope", "vi")
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        t("status.met", "fr")


@pytest.mark.parametrize(("x", "lang", "decimals", "expected"), [
    (3.5, "vi", 1, "3,5"), (3.5, "en", 1, "3.5"),
    (48749, "vi", 0, "48.749"), (48749, "en", 0, "48,749"),
    (1234567.891, "vi", 2, "1.234.567,89"), (1234567.891, "en", 2, "1,234,567.89"),
    (-0.04, "vi", 1, "0,0"), (-2.25, "en", 1, "-2.2"),
    (None, "vi", 1, "–"), (math.nan, "en", 1, "–"),
])
def test_format_number(x, lang, decimals, expected):
    assert format_number(x, lang, decimals) == expected


@pytest.mark.parametrize(("x", "lang", "decimals", "fraction", "expected"), [
    (0.035, "vi", 1, True, "3,5 %"), (0.035, "en", 1, True, "3.5%"),
    (0.61, "vi", 0, True, "61 %"), (0.61, "en", 0, True, "61%"),
    (97.5, "vi", 1, False, "97,5 %"), (97.5, "en", 1, False, "97.5%"),
    (None, "vi", 0, True, "–"),
])
def test_format_percent(x, lang, decimals, fraction, expected):
    assert format_percent(x, lang, decimals, fraction=fraction) == expected


def test_format_signed_uses_a_true_minus_and_no_sign_for_zero():
    assert format_signed(-0.3, "vi") == "−0,3"
    assert format_signed(1.25, "en", 2) == "+1.25"
    assert format_signed(0.0001, "en", 1) == "0.0"
    assert format_signed(None, "en") == "–"


@pytest.mark.parametrize(("p", "vi", "en"), [
    (1.0, "rất có khả năng", "very likely"), (0.90, "rất có khả năng", "very likely"),
    (0.8999, "có khả năng", "likely"), (0.66, "có khả năng", "likely"),
    (0.5, "khả năng ngang nhau", "about as likely as not"),
    (0.33, "khả năng ngang nhau", "about as likely as not"),
    (0.1, "ít có khả năng", "unlikely"), (0.0999, "rất ít có khả năng", "very unlikely"),
    (0.0, "rất ít có khả năng", "very unlikely"),
])
def test_probability_words_follow_the_fixed_scale(p, vi, en):
    assert probability_words(p, "vi") == vi
    assert probability_words(p, "en") == en


def test_probability_words_reject_values_outside_0_1():
    with pytest.raises(ValueError, match=r"a probability must be in \[0, 1\], got 1.2"):
        probability_words(1.2, "en")
    assert probability_words(None, "vi") == "–"


@given(st.floats(0, 1), st.floats(0, 1))
def test_probability_words_are_monotone(p, q):
    order = [band[2] for band in PROBABILITY_SCALE]  # highest band first
    lo, hi = sorted((p, q))
    assert order.index(probability_words(hi, "en")) <= order.index(probability_words(lo, "en"))


@given(st.floats(-1e9, 1e9, allow_nan=False), st.integers(0, 3))
def test_vietnamese_and_english_numbers_swap_marks(x, decimals):
    vi, en = format_number(x, "vi", decimals), format_number(x, "en", decimals)
    assert vi == en.translate(str.maketrans({",": ".", ".": ","}))
    assert re.fullmatch(r"-?\d{1,3}(\.\d{3})*(,\d+)?", vi)


def test_every_qualitative_target_is_glossed_in_english():
    """English pages translate the plan's qualitative targets, the plan's words beside them."""
    texts = {tg.text for ind in load_catalog().indicators.values()
             for tg in ind.targets.values() if tg is not None and tg.kind == "qualitative"}
    assert len(texts) == 5
    for text in texts:
        shown = format_target_text(text, "en")
        assert shown.endswith(f"({' '.join(text.split())})") and shown[0].islower(), shown
        assert format_target_text(text, "vi") == text
