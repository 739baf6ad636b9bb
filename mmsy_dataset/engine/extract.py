"""Text mode: which option a free-text reply chose, or an honest "could not tell".

The paper matches the option in GPT-4V / Gemini replies. Replies are messy (explanations,
"B) blue", "blue, not red", refusals), so extraction is conservative: a reply that names two
different options, or none, is a failure with a reason, never a random guess. Failures are
counted in run.json and left out of the metrics' denominators by the scoring library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEADING = re.compile(r"^\W*\(?([A-D])\s*(?:\)|\.|:|,|$|\s+[-–—]|\s*$)")
_MARKED = re.compile(
    r"\(([A-D])\)|\b(?i:option|answer|choice|letter)\s*(?i:is|would be|:|=)?\s*\(?\"?([A-D])\b\)?"
    r"|\b([A-D])\)"
)
_ANSWER_IS = re.compile(r"\b(?:answer|it)\s+(?:is|should be|would be)\s*:?\s*\"?([\w\s'-]+?)\"?(?:[.,;!]|$)", re.I)


@dataclass(frozen=True)
class Extraction:
    choice: str | None
    reason: str
    """How it was read: letter, option, letter+option, answer-is; or why not: empty, ambiguous, none."""


def _option_hits(reply: str, letters: tuple[str, ...], options: tuple[str, ...]) -> list[str]:
    lowered = reply.lower()
    hits = []
    for letter, option in zip(letters, options, strict=True):
        if re.search(rf"(?<![\w-]){re.escape(option.lower())}(?![\w-])", lowered):
            hits.append(letter)
    # An option that is part of another matched option ("red" in "dark red") does not count.
    return [
        letter
        for letter in hits
        if not any(
            other != letter and options[letters.index(letter)].lower() in options[letters.index(other)].lower()
            for other in hits
        )
    ]


def extract_choice(reply: str | None, letters: tuple[str, ...], options: tuple[str, ...]) -> Extraction:
    """The letter a reply chose among `letters` (option texts `options`)."""
    text = (reply or "").strip()
    if not text:
        return Extraction(None, "empty")
    lead = _LEADING.match(text)
    marked = {m for groups in _MARKED.findall(text) for m in groups if m in letters}
    if lead and lead.group(1) in letters:
        marked.add(lead.group(1))
    hits = _option_hits(text, letters, options)
    if len(marked) == 1:
        letter = marked.pop()
        if hits and letter not in hits:  # "(A) blue" when A is red: which one?
            return Extraction(None, "ambiguous")
        return Extraction(letter, "letter+option" if hits == [letter] else "letter")
    if len(marked) > 1:
        return Extraction(None, "ambiguous")
    if len(hits) == 1:
        return Extraction(hits[0], "option")
    if len(hits) > 1:
        stated = {letter for m in _ANSWER_IS.finditer(text) for letter in _option_hits(m.group(1), letters, options)}
        if len(stated) == 1:
            return Extraction(stated.pop(), "answer-is")
        return Extraction(None, "ambiguous")
    return Extraction(None, "none")
