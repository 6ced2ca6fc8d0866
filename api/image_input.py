"""The image of a request, uploaded or fetched, checked cheaply before anything is charged."""

from __future__ import annotations

from api.errors import ApiError
from api.image_fetch import fetch_image
from api.model_choice import choose_model
from api.remove_request import RemovalRequest
from api.services import Services
from storage.image_probe import ImageRejected, probe


async def prepared_image(services: Services, removal: RemovalRequest) -> bytes:
    """The upload, or the download of ``image_url``; refused unless its header probes well."""
    settings = services.settings
    choose_model(removal.options.model, settings)  # a bad model name costs no download
    image = removal.image
    if image is None:
        assert removal.image_url is not None
        image = await fetch_image(services.http, removal.image_url, settings.max_image_bytes)
    try:
        probe(image, min_side=settings.min_image_side, max_side=settings.max_image_side)
    except ImageRejected as rejected:
        raise ApiError(rejected.code, rejected.message) from None
    return image
