"""Demo pictures: every open or scheduled demo lot shows an image, served like an upload."""

from __future__ import annotations

import io
import logging

from PIL import Image

from server.devtools.seed import seed_demo
from server.devtools.seed_images import add_demo_images, demo_picture
from server.media.storage import LocalMediaStore


async def test_the_demo_lots_get_pictures_once_and_they_are_served(server, db):
    created = await seed_demo(db)
    store = LocalMediaStore(server.context.settings.data_dir / "media")
    assert await add_demo_images(db, store) == created
    assert await add_demo_images(db, store) == 0  # a restart adds none

    status, page = await server.request("GET", "/api/lots")
    assert status == 200
    assert all(len(lot["images"]) == 1 for lot in page["items"]), page["items"]
    image = page["items"][0]["images"][0]
    assert (image["content_type"], image["width"], image["height"]) == ("image/jpeg", 1200, 900)
    async with server.http.get(server.url + image["thumb_url"]) as response:
        assert response.status == 200
        thumb = Image.open(io.BytesIO(await response.read()))
    assert thumb.size == (480, 360)


def test_a_title_always_draws_the_same_picture():
    assert demo_picture("Brass clock") == demo_picture("Brass clock")
    assert demo_picture("Brass clock") != demo_picture("Tin robot")


async def test_the_seed_command_pictures_the_demo_lots(settings, db, capsys):
    from server.cli import seed

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {
        name: logging.getLogger(name).level for name in ("aiohttp.access", "stripe", "apscheduler")
    }
    try:
        assert await seed(settings) == 0  # it configures logging as the command does
    finally:
        root.handlers[:], root.level = handlers, level
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)
    assert "seeded 8 demo lots (8 with a picture)" in capsys.readouterr().out
    files = list((settings.data_dir / "media" / "lots").rglob("*.jpg"))
    assert len(files) == 16  # each picture and its thumbnail
