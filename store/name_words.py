"""A borrower's name as words, case- and accent-insensitive, in core PostgreSQL (no unaccent).

`NAME_WORDS` is the expression of `cases_borrower_words_idx` (migration 0006 freezes its
literals); the listing's `borrower` filter builds the very same expression, or the planner would
not use the index.
"""
from __future__ import annotations

import unicodedata


def _accent_map() -> tuple[str, str]:
    """(from, to) for translate(): accented Latin letters, both cases, to their plain lowercase
    letter (translate first, lower second: lower() leaves non-ASCII letters alone under the C
    collation)."""
    pairs = {"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ı": "i", "ħ": "h", "Ħ": "h"}
    for code in range(0xC0, 0x180):  # Latin-1 Supplement and Latin Extended-A
        char = chr(code)
        base = unicodedata.normalize("NFKD", char)[0]
        if base != char and base.isascii() and base.isalpha():
            pairs[char] = base.lower()
    return "".join(pairs), "".join(pairs.values())


ACCENTED, PLAIN = _accent_map()


def plain_words(sql_text: str) -> str:
    """SQL: the text lowercased and stripped of accents (sql_text: a column or a placeholder)."""
    return f"lower(translate({sql_text}, '{ACCENTED}', '{PLAIN}'))"


NAME_WORDS = f"to_tsvector('simple'::regconfig, {plain_words('borrower_name')})"
