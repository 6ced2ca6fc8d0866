from __future__ import annotations

import pytest

from api.accept import wants_png


@pytest.mark.parametrize(
    ("accept", "png"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("image/*", True),
        ("image/png", True),
        ("IMAGE/PNG", True),
        ("image/webp", True),
        ("application/json;q=0.5, image/*", True),
        ("image/png;q=0.4, application/json", False),
        ("image/png, application/json", False),
        ("text/html", False),
        ("garbage;;;", False),
    ],
)
def test_accept_negotiation(accept, png):
    assert wants_png(accept) is png
