"""Words of a survey comment, as stored for search and as looked up (pure, no I/O).

The embedded database (SecantusDB) has no text index and no ``$text``, so comments are
searched through an array of their words (``commentTerms``) under an ordinary multikey
index, which works the same on SecantusDB and on MongoDB (docs/adr/0020). The words are
what a MongoDB text index with ``default_language: "none"`` would keep — no stemming and no
stop words, which fit Persian and Arabic better than a wrong stemmer — with the folding those
scripts need for a search to find what a person typed:

- Unicode compatibility forms (NFKD) and case folded; combining marks dropped, so Arabic
  harakat and the hamza and madda on alef (أ إ آ → ا) go, as do Latin accents;
- Arabic yeh and alef maksura → Persian yeh (ي ى → ی), Arabic kaf → Persian kaf (ك → ک),
  teh marbuta and heh with hamza → heh (ة ۀ → ه); tatweel (ـ) removed;
- the zero-width non-joiner of Persian compounds (می‌خواهم) removed, so a word typed with
  or without it is the same word; Persian and Arabic-Indic digits → 0–9;
- words are maximal runs of letters and digits; each kept once.
"""

from __future__ import annotations

import re
import unicodedata

from service.domain.errors import BadUserInput

MAX_TERM_CHARS = 64  # a longer "word" is cut: an index key stays small
MAX_SEARCH_TERMS = 10

_FOLD = str.maketrans(
    {
        "\u064a": "\u06cc",  # ي Arabic yeh → ی
        "\u0649": "\u06cc",  # ى alef maksura → ی
        "\u0643": "\u06a9",  # ك Arabic kaf → ک
        "\u0629": "\u0647",  # ة teh marbuta → ه
        "\u06c0": "\u0647",  # ۀ heh with yeh above → ه
        "\u06d5": "\u0647",  # ە ae (what NFKD leaves of ۀ) → ه
        "\u0640": None,  # ـ tatweel
        "\u200c": None,  # zero-width non-joiner
        "\u200d": None,  # zero-width joiner
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    }
)
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.translate(_FOLD)


def terms(text: str | None) -> list[str]:
    """The distinct words of ``text`` in their first order (empty for no text)."""
    if not text:
        return []
    seen: dict[str, None] = {}
    for word in _WORD.findall(fold(text)):
        seen.setdefault(word[:MAX_TERM_CHARS], None)
    return list(seen)


def search_terms(search: str, max_chars: int) -> list[str]:
    """The words a search asks for (every one must be in a comment), or BAD_USER_INPUT."""
    if len(search) > max_chars:
        raise BadUserInput(f"search is longer than {max_chars} characters "
                           "(CX_MAX_STRING_LENGTH)", reason="INVALID_SEARCH")  # fmt: skip
    found = terms(search)
    if not found:
        raise BadUserInput("search has no words to look for", reason="INVALID_SEARCH")
    if len(found) > MAX_SEARCH_TERMS:
        raise BadUserInput(f"search has {len(found)} words; at most {MAX_SEARCH_TERMS}",
                           reason="INVALID_SEARCH", maximum=MAX_SEARCH_TERMS)  # fmt: skip
    return found
