"""The words of a comment, as stored and as searched: Persian and Arabic folded alike."""

from __future__ import annotations

import pytest

from service.domain.errors import BadUserInput
from service.domain.search_terms import MAX_SEARCH_TERMS, fold, search_terms, terms


def test_persian_words_with_diacritics_and_the_zero_width_non_joiner() -> None:
    comment = "پشتیبانیِ شما بسیار کُند بود؛ می‌خواهم اشتراکم را لغو کنم. ۱۲ بار تماس گرفتم"
    assert terms(comment) == ["پشتیبانی", "شما", "بسیار", "کند", "بود", "میخواهم", "اشتراکم",
                              "را", "لغو", "کنم", "12", "بار", "تماس", "گرفتم"]  # fmt: skip


def test_arabic_words_fold_hamza_alef_teh_marbuta_and_letter_forms() -> None:
    comment = "الخدمةُ كانت بطيئةً جداً، أريد إلغاء الاشتراك في ٢٠٢٦"
    assert terms(comment) == ["الخدمه", "کانت", "بطییه", "جدا", "ارید", "الغاء", "الاشتراک",
                              "فی", "2026"]  # fmt: skip


def test_persian_typed_with_arabic_letters_is_the_same_word() -> None:
    # ي and ك (an Arabic keyboard) against ی and ک (a Persian one); ـ tatweel stretches.
    assert terms("مشكل پشتيباني") == terms("مشکل پشتیبانی") == ["مشکل", "پشتیبانی"]
    assert terms("كـــند") == ["کند"]
    assert fold("آ") == fold("أ") == fold("إ") == "ا"


def test_latin_words_lose_case_and_accents_and_stay_whole() -> None:
    assert terms("Café SLOW_service, slow!") == ["cafe", "slow", "service"]
    assert terms(None) == [] and terms("") == [] and terms("؟!…") == []


def test_operator_looking_text_is_words() -> None:
    assert terms('{"$ne": null, "$where": "sleep(1)"}') == ["ne", "null", "where", "sleep", "1"]


def test_words_are_kept_once_in_first_order_and_long_ones_cut() -> None:
    assert terms("بد خیلی بد") == ["بد", "خیلی"]
    assert terms("a" * 100) == ["a" * 64]


@pytest.mark.parametrize(
    "search,message",
    [
        ("  ؟! ", "search has no words to look for"),
        (" ".join(f"w{i}" for i in range(MAX_SEARCH_TERMS + 1)), "search has 11 words; at most 10"),
        ("x" * 21, "search is longer than 20 characters (CX_MAX_STRING_LENGTH)"),
    ],
    ids=["no words", "too many words", "too long"],
)
def test_a_bad_search_is_refused(search: str, message: str) -> None:
    max_chars = 20 if len(search) == 21 else 1000
    with pytest.raises(BadUserInput) as caught:
        search_terms(search, max_chars)
    assert caught.value.message == message
    assert caught.value.extensions["reason"] == "INVALID_SEARCH"
