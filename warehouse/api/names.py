"""Thai names as the search compares them, and the blocking keys derived from them.

Both warehouse.api.search (which scores) and warehouse.api.name_index (which narrows who is
scored) build on these two functions; neither imports the other.
"""

from __future__ import annotations

from pythainlp.util import normalize, remove_tonemark

KEY_CHARS = 2


def normalise_name(value: str) -> str:
    """pythainlp's normalisation (no corpus download), without tone marks or any spacing."""
    return "".join(remove_tonemark(normalize(value)).lower().split())


def blocking_keys(first_norm: str, last_norm: str) -> set[str]:
    """The four (first, last) pairs of two-character prefixes and suffixes of normalised names."""
    firsts = {first_norm[:KEY_CHARS], first_norm[-KEY_CHARS:]}
    lasts = {last_norm[:KEY_CHARS], last_norm[-KEY_CHARS:]}
    return {f"{f}|{ln}" for f in firsts for ln in lasts}
