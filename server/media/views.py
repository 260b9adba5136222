"""HTTP transport for lot images: upload (multipart), reorder, delete, and the files.

An upload is refused before its body is read when the caller may not add an
image to the lot; its body is read in chunks and refused as soon as it passes
`MEDIA_MAX_BYTES`. The type comes from the bytes (`server.media.images`).
"""

from __future__ import annotations

import asyncio

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from server.contract.base import parse
from server.contract.media import ImageOrder
from server.contract.query import path_id
from server.core.context import context_of
from server.core.errors import AppError, NotFound, ValidationError
from server.core.http import Handler, json_response, read_json, require_identity
from server.media import images, service
from server.media.storage import LocalMediaStore, MediaStore
from server.settings import Settings
from server.web.pages import static_file

MANAGERS = ("seller", "admin")
MEDIA_STORE = web.AppKey("media_store", MediaStore)
#: Images decoded at once by this process: decoding takes memory and a core.
PROCESSING = web.AppKey("media_processing", asyncio.Semaphore)
#: Room for the multipart framing around the file itself.
FRAMING_BYTES = 64 * 1024
CHUNK = 64 * 1024
#: Stored files never change (a new upload gets a new key): caches may keep them.
IMMUTABLE = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class TooLarge(AppError):
    code = "validation_error"
    status = 413


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


async def read_upload(request: web.Request, limit: int) -> bytes:
    """The bytes of the one multipart part named `file`, or a refusal saying what is wrong."""
    declared = request.content_length
    if declared is not None and declared > limit + FRAMING_BYTES:
        raise TooLarge(f"The image is larger than {_megabytes(limit)}")
    if request.content_type != "multipart/form-data":
        raise ValidationError(
            "Send the image as multipart/form-data, in a part named 'file'",
            details={"fields": {"file": "'file' is required"}},
        )
    try:
        reader = await request.multipart()
        data: bytes | None = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "file" or data is not None:
                name = getattr(part, "name", None) or "part"
                raise ValidationError(
                    f"Only one part, named 'file', is taken; '{name}' is not",
                    details={"fields": {name: f"'{name}' is not a field of this request"}},
                )
            chunks: list[bytes] = []
            size = 0
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"The image is larger than {_megabytes(limit)}")
                chunks.append(chunk)
            data = b"".join(chunks)
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as error:
        raise ValidationError("The upload is not valid multipart/form-data") from error
    if not data:
        raise ValidationError(
            "Choose an image to upload", details={"fields": {"file": "'file' is required"}}
        )
    return data


async def upload_image(request: web.Request) -> web.Response:
    actor = require_identity(request, *MANAGERS)
    lot_id = path_id(request.match_info["lot_id"])
    context = context_of(request)
    await service.precheck(context, lot_id, actor)
    data = await read_upload(request, context.settings.media_max_bytes)
    try:
        async with request.app[PROCESSING]:
            processed = await asyncio.to_thread(images.process, data)
    except images.ImageRefused as refused:
        raise ValidationError(str(refused), details={"fields": {"file": str(refused)}}) from None
    store = request.app[MEDIA_STORE]
    image = await service.add_image(context, store, lot_id, actor, processed)
    return json_response(image, status=201)


def _image_id(raw: str) -> str:
    if len(raw) != 16 or any(c not in "0123456789abcdef" for c in raw):
        raise NotFound("Image not found")
    return raw


async def delete_image(request: web.Request) -> web.Response:
    actor = require_identity(request, *MANAGERS)
    lot_id = path_id(request.match_info["lot_id"])
    image_id = _image_id(request.match_info["image_id"])
    store = request.app[MEDIA_STORE]
    lot = await service.delete_image(context_of(request), store, lot_id, image_id, actor)
    return json_response(lot)


async def reorder_images(request: web.Request) -> web.Response:
    actor = require_identity(request, *MANAGERS)
    lot_id = path_id(request.match_info["lot_id"])
    order = parse(ImageOrder, await read_json(request))
    lot = await service.reorder_images(context_of(request), lot_id, list(order.image_ids), actor)
    return json_response(lot)


def media_file(store: LocalMediaStore) -> Handler:
    async def serve(request: web.Request) -> web.FileResponse:
        path = static_file(store.root, request.match_info["key"])
        content_type = CONTENT_TYPES.get(path.suffix.lstrip("."))
        if content_type is None:
            raise NotFound("No such file")
        return web.FileResponse(path, headers={**IMMUTABLE, "Content-Type": content_type})

    return serve


def setup_routes(app: web.Application, settings: Settings) -> None:
    store = LocalMediaStore(settings.data_dir / "media")
    app[MEDIA_STORE] = store
    app[PROCESSING] = asyncio.Semaphore(2)
    app.router.add_post("/api/lots/{lot_id}/images", upload_image)
    app.router.add_put("/api/lots/{lot_id}/images/order", reorder_images)
    app.router.add_delete("/api/lots/{lot_id}/images/{image_id}", delete_image)
    app.router.add_get("/media/{key:.+}", media_file(store))
