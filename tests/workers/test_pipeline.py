"""The pipeline on real photographs, judged by their pixels."""

from __future__ import annotations

import io
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from storage.error_codes import ErrorCode
from storage.image_probe import ImageRejected
from tests.images import encode, eval_item, eval_items, iou, rgba, sample
from workers.contract import JobOptions
from workers.pipeline.decode import decode
from workers.pipeline.foreground import require_foreground
from workers.pipeline.run import StageTimes, remove_background
from workers.pipeline.segment import Segmenter

PHOTOS = ["ecssd_0597", "ecssd_0227", "carvana_0cdf5b5d0ce1_01", "am_GT17", "am_GT06"]


def core_and_surroundings(truth: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """The subject without its edge band, and the background without its edge band."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    core = cv2.erode(truth.astype(np.uint8), kernel).astype(bool)
    outside = ~cv2.dilate(truth.astype(np.uint8), kernel).astype(bool)
    return core, outside


@pytest.mark.parametrize("name", PHOTOS)
def test_subject_opaque_background_transparent_size_kept(segmenter, name):
    item = eval_item(name)
    source = item.image.read_bytes()
    out = rgba(remove_background(source, JobOptions(), segmenter))
    photo = np.asarray(Image.open(io.BytesIO(source)).convert("RGB"))
    truth = item.gt_mask()

    assert out.shape[:2] == photo.shape[:2]
    margin = max(3, round(0.02 * max(truth.shape)))
    core, outside = core_and_surroundings(truth, margin)
    alpha = out[..., 3]
    assert np.median(alpha[core]) == 255, "the subject's interior is opaque"
    assert np.mean(alpha[outside] < 32) > 0.95, "the background is transparent"
    assert iou(alpha, truth) > 0.75
    opaque = alpha == 255
    assert np.array_equal(out[..., :3][opaque], photo[opaque]), "opaque colours are the photo's"


def test_every_stage_is_timed(segmenter):
    times = StageTimes()
    remove_background(sample("coffee.jpg"), JobOptions(), segmenter, times)
    assert list(times.seconds) == ["decode", "resize", "inference", "refine", "encode"]
    assert all(seconds > 0 for seconds in times.seconds.values())


def test_exif_orientation_is_applied_before_cutting_out(segmenter):
    upright = np.asarray(Image.open(io.BytesIO(sample("chelsea.jpg"))))
    expected = rgba(remove_background(encode(upright), JobOptions(), segmenter))
    # Stored rotated 90° clockwise; EXIF orientation 8 tells viewers to rotate it back.
    stored = np.ascontiguousarray(np.rot90(upright, k=-1))
    exif = Image.Exif()
    exif[0x0112] = 8
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, "PNG", exif=exif.tobytes())

    out = rgba(remove_background(buffer.getvalue(), JobOptions(), segmenter))
    assert out.shape == expected.shape == (*upright.shape[:2], 4)
    opaque = out[..., 3] == 255
    assert np.array_equal(out[..., :3][opaque], upright[opaque])
    agreement = np.mean((out[..., 3] >= 128) == (expected[..., 3] >= 128))
    assert agreement > 0.98


def test_transparent_input_pixels_stay_transparent(segmenter):
    photo = np.asarray(Image.open(io.BytesIO(sample("coffee.jpg"))))
    alpha = np.full(photo.shape[:2], 255, np.uint8)
    alpha[:, : photo.shape[1] // 2] = 0
    out = rgba(remove_background(encode(np.dstack([photo, alpha])), JobOptions(), segmenter))
    assert out[:, : photo.shape[1] // 2, 3].max() == 0
    assert out[:, photo.shape[1] // 2 :, 3].max() == 255


@pytest.mark.parametrize(
    "pixels",
    [
        np.full((300, 400, 3), 255, np.uint8),
        np.full((300, 400, 3), 128, np.uint8),
        np.zeros((300, 400, 3), np.uint8),
    ],
    ids=["white", "grey", "black"],
)
def test_blank_images_have_no_foreground(segmenter, pixels):
    with pytest.raises(ImageRejected) as rejected:
        remove_background(encode(pixels), JobOptions(), segmenter)
    assert rejected.value.code == ErrorCode.UNKNOWN_FOREGROUND


def test_truncated_jpeg_is_malformed(segmenter):
    data = sample("coffee.jpg")
    with pytest.raises(ImageRejected) as rejected:
        remove_background(data[: len(data) // 3], JobOptions(), segmenter)
    assert rejected.value.code == ErrorCode.MALFORMED_IMAGE


@pytest.mark.parametrize(
    "noise",
    [
        np.random.default_rng(5).integers(0, 256, (300, 400, 3), dtype=np.uint8),  # diffuse
        np.random.default_rng(7).integers(0, 256, (300, 400, 3), dtype=np.uint8),  # "all subject"
        np.random.default_rng(8).integers(0, 256, (900, 1200, 3), dtype=np.uint8),  # "none"
        np.repeat(np.random.default_rng(9).integers(0, 256, (300, 400, 1), np.uint8), 3, 2),
    ],
    ids=["colour-diffuse", "colour-small", "colour-large", "grey"],
)
def test_noise_has_no_foreground(segmenter, noise):
    with pytest.raises(ImageRejected) as rejected:
        remove_background(encode(noise), JobOptions(), segmenter)
    assert rejected.value.code == ErrorCode.UNKNOWN_FOREGROUND


def test_the_no_foreground_rule_never_fires_on_the_development_photos(segmenter):
    for item in eval_items():
        mask = segmenter.predict(decode(item.image.read_bytes()).rgb)
        require_foreground(mask)  # raises unknown_foreground if the rule fired


def test_logit_models_are_squashed_into_probabilities(segmenter):
    """BiRefNet outputs logits: the spec says so and the segmenter applies a sigmoid."""
    as_logits = Segmenter(replace(segmenter.spec, output="logits"), segmenter._session)
    rgb = np.asarray(Image.open(io.BytesIO(sample("coffee.jpg"))).convert("RGB"))
    batch = segmenter.preprocess(rgb)
    probabilities = segmenter.infer(batch)
    squashed = as_logits.infer(batch)
    assert np.allclose(squashed, 1 / (1 + np.exp(-probabilities)), atol=1e-5)
