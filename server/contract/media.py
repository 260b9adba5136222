"""Lot images: what the catalogue and lot pages show, and how a seller orders them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import Field

from server.contract.base import Contract, Resource

IMAGE_ID_PATTERN = r"^[0-9a-f]{16}$"
ImageId = Annotated[str, Field(pattern=IMAGE_ID_PATTERN)]


class Image(Resource):
    """One image of a lot. Both URLs are on this server (`/media/...`) unless a remote store
    is configured; the files never change, so they may be cached for a long time."""

    id: ImageId
    url: Annotated[str, Field(description="The image, at most 2048 pixels on its long side")]
    thumb_url: Annotated[str, Field(description="A thumbnail, at most 480 pixels")]
    width: Annotated[int, Field(description="Of the image at `url`, in pixels")]
    height: int
    content_type: Annotated[str, Field(examples=["image/jpeg", "image/png", "image/webp"])]


class ImageOrder(Contract):
    """`PUT /api/lots/{lot_id}/images/order`: every image of the lot, once, first = cover."""

    image_ids: Annotated[
        list[ImageId], Field(max_length=20, json_schema_extra={"uniqueItems": True})
    ]

    def problems(self, context: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        if len(set(self.image_ids)) != len(self.image_ids):
            yield "image_ids", "'image_ids' must name each image once"
