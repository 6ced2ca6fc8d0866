"""The web playground in headless Chromium (Debian's package, driven by Playwright).

Against the real API and worker: paste a key, upload a real photo, get a cut-out, check its
pixels as displayed and as downloaded, toggle a shadow, and check screenshots of the page.
Set CUTOUT_SCREENSHOT_DIR to keep the screenshots (docs/playground.png comes from there).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storage.error_codes import ErrorCode
from tests.images import (
    CAR,
    assert_matches_truth,
    assert_shadowed_cutout,
    eval_item,
    shadow_coverage,
)
from tests.job_rows import shadow_options

PLAYGROUND = Path(__file__).resolve().parents[2] / "api" / "playground"
CHECKER = (255, 204)  # the checkerboard's two greys (#fff and #ccc)


def test_every_error_code_has_a_friendly_message():
    messages = json.loads((PLAYGROUND / "messages.json").read_text())
    assert set(messages) == {code.value for code in ErrorCode}
    assert all(len(text) > 20 for text in messages.values())


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, api, worker) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{api.url}/")
    page.wait_for_selector("body[data-ready='true']")
    yield page
    context.close()


def _displayed_png(page) -> bytes:
    encoded = page.evaluate(
        """async () => {
            const blob = await (await fetch(document.getElementById('after').src)).blob();
            const bytes = new Uint8Array(await blob.arrayBuffer());
            let text = '';
            for (const b of bytes) text += String.fromCharCode(b);
            return btoa(text);
        }"""
    )
    return base64.b64decode(encoded)


def _run(page) -> None:
    page.click("#run")
    page.wait_for_selector("body[data-result='ready'], body[data-result='error']", timeout=90_000)


def _region(screenshot: bytes, box: dict) -> np.ndarray:
    image = np.asarray(Image.open(io.BytesIO(screenshot)).convert("RGB"))
    x, y = int(box["x"]), int(box["y"])
    return image[y : y + int(box["height"]), x : x + int(box["width"])]


def _save(name: str, data: bytes) -> None:
    if directory := os.environ.get("CUTOUT_SCREENSHOT_DIR"):
        Path(directory, name).write_bytes(data)


def test_upload_cut_out_download_then_add_a_shadow(
    page, make_tenant, balance_of, sessions, tmp_path
):
    tenant = make_tenant(credits=20)
    item = eval_item(CAR)
    assert page.url.endswith("/playground/")

    page.fill("#api-key", tenant.api_key)
    page.set_input_files("#file", str(item.image))
    # The preview appears once the browser has read the file: wait for it, then check it.
    page.wait_for_selector("#before", state="visible", timeout=10_000)
    assert page.is_visible("#before")
    _run(page)

    # The cut-out shown is a real one, and the credits are the ledger's.
    assert page.get_attribute("body", "data-result") == "ready"
    plain = _displayed_png(page)
    assert_matches_truth(plain, item)
    assert page.text_content("#credits-charged") == "1"
    assert page.text_content("#credits-remaining") == str(balance_of(tenant.id)) == "19"
    assert page.evaluate("sessionStorage.getItem('cutout.apiKey')") == tenant.api_key

    # The download is the same PNG.
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"{item.image.stem}-cutout.png"
    assert_matches_truth(saved.read_bytes(), item)

    # On screen: the checkerboard shows through the transparent background, the subject is there.
    screenshot = page.screenshot(full_page=True)
    _save("playground-cutout.png", screenshot)
    stage = _region(screenshot, page.locator("#after-stage").bounding_box())
    corner = stage[4:28, 4:28].reshape(-1, 3)
    greys = {int(v) for v in corner[:, 0]} & set(CHECKER)
    assert greys == set(CHECKER), "both checkerboard greys visible in the corner"
    picture = _region(screenshot, page.locator("#after").bounding_box())
    h, w = picture.shape[:2]
    middle = picture[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].reshape(-1, 3)
    not_checker = ~np.isin(middle, CHECKER).all(axis=1)
    assert not_checker.mean() > 0.5, "the subject covers the middle of the result"

    # A hand-placed shadow: 4 credits, the light as set, and a shadow beside the subject.
    page.check("#shadow")
    page.uncheck("#auto-light")
    page.fill("#light-x", "0.5")
    page.fill("#light-z", "0.4")
    page.fill("#opacity", "0.8")
    assert page.text_content("output[for='opacity']") == "0.8"
    assert "4 credits" in page.text_content("#run")
    _run(page)
    assert page.get_attribute("body", "data-result") == "ready"
    shadowed = _displayed_png(page)
    assert_shadowed_cutout(shadowed, item)
    assert shadow_coverage(shadowed, item) > 2 * shadow_coverage(plain, item)
    placed = {"opacity": 0.8, "size": 0.3, "x": 0.5, "y": -0.6, "z": 0.4, "automatic": False}
    assert shadow_options(sessions, tenant.id) == [None, placed]
    assert page.text_content("#credits-charged") == "4"
    assert page.text_content("#credits-remaining") == str(balance_of(tenant.id)) == "15"
    _save("playground.png", page.screenshot(full_page=True))


def test_errors_are_explained_in_words(page, make_tenant, balance_of):
    messages = json.loads((PLAYGROUND / "messages.json").read_text())
    page.fill("#api-key", "ck_live_not_a_real_key")
    page.set_input_files(
        "#file", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"}]
    )
    _run(page)
    assert page.get_attribute("body", "data-error-code") == "invalid_auth_token"
    assert messages["invalid_auth_token"] in page.text_content("#error")

    tenant = make_tenant(credits=5)
    page.fill("#api-key", tenant.api_key)
    _run(page)
    assert page.get_attribute("body", "data-error-code") == "malformed_image"
    assert messages["malformed_image"] in page.text_content("#error")
    assert balance_of(tenant.id) == 5
