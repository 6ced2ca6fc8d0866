"""Content negotiation for the result: the JSON with a URL, or the PNG itself."""

from __future__ import annotations

import mimeparse

PNG = "image/png"
JSON = "application/json"


def wants_png(accept: str | None) -> bool:
    """The seed's rule: ``image/*`` asks for bytes; JSON is the default and wins ties.

    A client that accepts only another image type (``image/webp``) still gets the bytes, as a
    PNG: it asked for an image, and PNG is the only format the contract produces.
    """
    if not accept or not accept.strip():
        return False
    try:
        best = mimeparse.best_match([PNG, JSON], accept)
    except ValueError:
        return False
    if best:
        return best == PNG
    return any(part.strip().lower().startswith("image/") for part in accept.split(","))
