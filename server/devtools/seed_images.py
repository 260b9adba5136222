"""Pictures for the demo lots, drawn here, so `scripts/dev` shows a catalogue with images.

Each open or scheduled lot of the demo seller without an image gets one: a
still life of simple shapes in colours taken from its title, with the title
written on it. They go through the same checks, storage and records as an
upload (`server.media`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select

from server.auctions.models import Lot, LotStatus
from server.core.db import Database
from server.devtools.seed import DEMO_SELLER
from server.media import images
from server.media.service import store_files
from server.media.storage import MediaStore

SIZE = (1200, 900)


def demo_picture(title: str) -> bytes:
    """A JPEG for `title`: the same title always draws the same picture."""
    digest = hashlib.sha256(title.encode()).digest()
    base = tuple(60 + byte % 140 for byte in digest[:3])
    accent = tuple(255 - value for value in base)
    picture = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(picture)
    for row in range(SIZE[1]):  # a vertical gradient, darker at the foot
        shade = 1 - row / SIZE[1] * 0.6
        draw.line([(0, row), (SIZE[0], row)], fill=tuple(int(v * shade) for v in base))
    for index in range(4):
        x = 150 + digest[3 + index] * 3
        y = 180 + digest[7 + index]
        radius = 80 + digest[11 + index] % 120
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=accent, width=10)
    font = ImageFont.load_default(size=64)
    draw.rectangle([0, SIZE[1] - 160, SIZE[0], SIZE[1]], fill=(20, 20, 20))
    draw.text((48, SIZE[1] - 120), title, fill=(245, 245, 245), font=font)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def add_demo_images(db: Database, store: MediaStore) -> int:
    """Give each open or scheduled demo lot without an image one; returns how many got one."""
    async with db.unit_of_work() as uow:
        lots = (
            await uow.session.execute(
                select(Lot.id, Lot.title).where(
                    Lot.seller_id == DEMO_SELLER,
                    Lot.status.in_((LotStatus.OPEN, LotStatus.SCHEDULED)),
                    func.jsonb_array_length(Lot.images) == 0,
                )
            )
        ).all()
    added = 0
    for lot_id, title in lots:
        processed = await asyncio.to_thread(images.process, demo_picture(title))
        record = await store_files(store, lot_id, processed, uploaded_by=DEMO_SELLER)
        async with db.unit_of_work() as uow:
            lot = await uow.session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())
            if lot is not None and not lot.images:
                lot.images = [record]
                added += 1
    return added
