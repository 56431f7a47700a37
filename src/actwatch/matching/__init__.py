"""Matching: decide whether an item is about the Act, its announcement type and its strands.

The pure core (`compile_rules`, `classify`) needs no database or network; `actwatch.matching.store`
applies it to stored items and `actwatch.matching.evaluate` scores it on labelled sets.
"""

from actwatch.matching.classify import classify
from actwatch.matching.matcher import Matcher, compile_rules, rules_hash
from actwatch.matching.model import Classification, Evidence, ItemText

__all__ = [
    "Classification",
    "Evidence",
    "ItemText",
    "Matcher",
    "classify",
    "compile_rules",
    "rules_hash",
]
