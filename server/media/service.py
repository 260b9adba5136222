"""A lot's images: added, reordered and removed under the lot's row lock.

Files are written before the transaction that lists them and removed after the
one that unlists them, so a listed image always has its files. If the
transaction refuses the upload (the lot closed meanwhile, another upload took
the last place), the new files are removed again: bad input changes nothing.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import select

from server.auctions.lifecycle import image_view, lot_view
from server.auctions.models import Lot, LotStatus
from server.auctions.service import require_manager
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import NotFound, conflict
from server.media.images import ProcessedImage
from server.media.storage import MediaStore

log = logging.getLogger(__name__)

MAX_IMAGES = 20
#: Images are added and reordered while a lot can still be bid on.
EDITABLE = (LotStatus.SCHEDULED, LotStatus.OPEN)


def check_can_add(lot: Lot, actor: Identity) -> None:
    """Who may add an image, and when: the lot's seller or an admin, before the close."""
    require_manager(actor, lot)
    if lot.status not in EDITABLE:
        raise conflict(
            "lot_not_open", f"Images can be added until the lot closes; it is {lot.status}"
        )
    if len(lot.images) >= MAX_IMAGES:
        raise conflict("too_many_images", f"A lot can have at most {MAX_IMAGES} images")


async def _locked_lot(uow: UnitOfWork, lot_id: int) -> Lot:
    lot = await uow.session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())
    if lot is None:
        raise NotFound("Lot not found")
    return lot


async def precheck(context: AppContext, lot_id: int, actor: Identity) -> None:
    """Refuse early (before the upload is read) what the transaction would refuse anyway."""
    async with context.db.unit_of_work() as uow:
        lot = await uow.session.get(Lot, lot_id)
        if lot is None:
            raise NotFound("Lot not found")
        check_can_add(lot, actor)


async def store_files(
    store: MediaStore, lot_id: int, image: ProcessedImage, *, uploaded_by: str
) -> dict[str, Any]:
    """Write the image and its thumbnail under new keys; the record a lot lists them by."""
    image_id = secrets.token_hex(8)
    extension = image.kind.extension
    key = f"lots/{lot_id}/{image_id}.{extension}"
    thumb_key = f"lots/{lot_id}/{image_id}-thumb.{extension}"
    record = {
        "id": image_id,
        "url": store.url(key),
        "thumb_url": store.url(thumb_key),
        "width": image.full.width,
        "height": image.full.height,
        "content_type": image.kind.content_type,
        "key": key,
        "thumb_key": thumb_key,
        "bytes": len(image.full.data),
        "uploaded_by": uploaded_by,
    }
    try:
        await store.put(key, image.full.data, image.kind.content_type)
        await store.put(thumb_key, image.thumb.data, image.kind.content_type)
    except BaseException:
        await _remove_files(store, [record])
        raise
    return record


async def add_image(
    context: AppContext,
    store: MediaStore,
    lot_id: int,
    actor: Identity,
    image: ProcessedImage,
) -> dict[str, Any]:
    record = await store_files(store, lot_id, image, uploaded_by=actor.sub)
    try:
        async with context.db.unit_of_work() as uow:
            lot = await _locked_lot(uow, lot_id)
            check_can_add(lot, actor)
            lot.images = [*lot.images, record]
            await uow.session.flush()
    except BaseException:
        await _remove_files(store, [record])
        raise
    log.info("image %s added to lot %s by %s", record["id"], lot_id, actor.sub)
    return image_view(record)


async def delete_image(
    context: AppContext, store: MediaStore, lot_id: int, image_id: str, actor: Identity
) -> dict[str, Any]:
    """Remove one image (the lot's seller or an admin, at any time: removing harms no one)."""
    async with context.db.unit_of_work() as uow:
        lot = await _locked_lot(uow, lot_id)
        require_manager(actor, lot)
        removed = [image for image in lot.images if image["id"] == image_id]
        if not removed:
            raise NotFound("Image not found")
        lot.images = [image for image in lot.images if image["id"] != image_id]
        await uow.session.flush()
        view = lot_view(context, lot)
    await _remove_files(store, removed)
    log.info("image %s removed from lot %s by %s", image_id, lot_id, actor.sub)
    return view


async def reorder_images(
    context: AppContext, lot_id: int, image_ids: list[str], actor: Identity
) -> dict[str, Any]:
    """Put the images in the order `image_ids` names them: each of them, once."""
    async with context.db.unit_of_work() as uow:
        lot = await _locked_lot(uow, lot_id)
        require_manager(actor, lot)
        if lot.status not in EDITABLE:
            raise conflict(
                "lot_not_open", f"Images can be reordered until the lot closes; it is {lot.status}"
            )
        by_id = {image["id"]: image for image in lot.images}
        if sorted(image_ids) != sorted(by_id):
            raise conflict(
                "images_changed",
                "The order must name each of the lot's images once; reload them and try again",
                image_ids=[image["id"] for image in lot.images],
            )
        lot.images = [by_id[image_id] for image_id in image_ids]
        await uow.session.flush()
        return lot_view(context, lot)


async def _remove_files(store: MediaStore, records: list[dict[str, Any]]) -> None:
    for record in records:
        for key in (record["key"], record["thumb_key"]):
            try:
                await store.delete(key)
            except OSError:
                log.exception("could not remove media file %s", key)
