"""Word-level tokenization shared by the mini model's text encoder and the mini scorer."""

from __future__ import annotations

import re


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks."""
    return re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower())
