"""Lot images: real multipart uploads, type sniffing, size limits, owners, order, delete."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.support.factories import create_lot


def picture(kind: str = "JPEG", size: tuple[int, int] = (800, 600), **save: Any) -> bytes:
    """A real image: a gradient, so encoders cannot squeeze it to nothing."""
    image = Image.new("RGB", size)
    image.putdata(
        [(x % 256, y % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    buffer = io.BytesIO()
    image.save(buffer, format=kind, **save)
    return buffer.getvalue()


def noise_png(size: tuple[int, int]) -> bytes:
    """A PNG that does not compress: random pixels."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def upload(
    server: Any,
    lot_id: int,
    data: bytes,
    *,
    as_user: str | None = "sam",
    role: str = "seller",
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    field: str = "file",
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    # A file object: aiohttp warns about bytes over 1 MiB in memory.
    form.add_field(field, io.BytesIO(data), filename=filename, content_type=content_type)
    return await server.request(
        "POST", f"/api/lots/{lot_id}/images", as_user=as_user, role=role, data=form
    )


async def fetch(server: Any, url: str) -> tuple[int, bytes, Any]:
    async with server.http.get(server.url + url) as response:
        return response.status, await response.read(), response.headers


def media_files(server: Any) -> list[Path]:
    root = server.context.settings.data_dir / "media"
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


async def images_of(server: Any, lot_id: int) -> list[dict[str, Any]]:
    status, lot = await server.request("GET", f"/api/lots/{lot_id}")
    assert status == 200
    return lot["images"]


async def test_a_seller_uploads_an_image_that_is_stored_without_its_metadata(server):
    lot = await create_lot(server)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; the stored copy is turned upright
    exif[0x010F] = "SecretCam"  # make
    original = picture("JPEG", size=(3000, 1000), exif=exif.tobytes())

    status, image = await upload(server, lot["id"], original)
    assert status == 201, image
    assert set(image) == {"id", "url", "thumb_url", "width", "height", "content_type"}
    assert image["content_type"] == "image/jpeg"
    assert (image["width"], image["height"]) == (683, 2048)  # upright, at most 2048 px

    assert await images_of(server, lot["id"]) == [image]
    status, body, headers = await fetch(server, image["url"])
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg"
    assert (
        "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    stored = Image.open(io.BytesIO(body))
    assert stored.size == (683, 2048)
    assert not stored.getexif(), "no EXIF (camera, position) is kept"
    assert b"SecretCam" not in body

    status, body, _ = await fetch(server, image["thumb_url"])
    assert status == 200
    assert max(Image.open(io.BytesIO(body)).size) == 480


@pytest.mark.parametrize(("kind", "content_type"), [("PNG", "image/png"), ("WEBP", "image/webp")])
async def test_png_and_webp_are_kept_in_their_own_format(server, kind, content_type):
    lot = await create_lot(server)
    # The declared type and name are ignored: the bytes say what it is.
    status, image = await upload(
        server,
        lot["id"],
        picture(kind, size=(300, 200)),
        filename="x.gif",
        content_type="text/plain",
    )
    assert status == 201, image
    assert (image["content_type"], image["width"], image["height"]) == (content_type, 300, 200)
    status, body, headers = await fetch(server, image["url"])
    assert (status, headers["Content-Type"]) == (200, content_type)
    assert Image.open(io.BytesIO(body)).format == kind


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (picture("GIF", size=(50, 50)), "Only JPEG, PNG or WebP images can be uploaded"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "Only JPEG, PNG or WebP images"),
        (b"#!/bin/sh\necho not a picture\n", "Only JPEG, PNG or WebP images"),
        (picture("JPEG")[:2000], "The file is damaged or not a complete image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "The file is damaged or not a complete image"),
    ],
)
async def test_anything_but_a_whole_jpeg_png_or_webp_is_refused_and_nothing_is_kept(
    server, data, message
):
    lot = await create_lot(server)
    status, error = await upload(server, lot["id"], data, filename="photo.jpg")
    assert (status, error["error"]["code"]) == (400, "validation_error"), error
    assert message in error["error"]["message"]
    assert error["error"]["fields"]["file"] == error["error"]["message"]
    assert await images_of(server, lot["id"]) == []
    assert media_files(server) == []


async def test_a_huge_image_in_a_small_file_is_refused_before_it_is_decoded(server):
    lot = await create_lot(server)
    buffer = io.BytesIO()
    Image.new("L", (10_000, 6_000)).save(buffer, format="PNG")  # 60 megapixels, ~60 kB
    status, error = await upload(server, lot["id"], buffer.getvalue())
    assert (status, error["error"]["code"]) == (400, "validation_error")
    assert "at most 50 megapixels" in error["error"]["message"]
    assert media_files(server) == []


async def test_an_image_over_the_size_limit_is_refused_in_megabytes(start_server):
    server = await start_server(media_max_bytes=200 * 1024)
    lot = await create_lot(server)
    status, error = await upload(server, lot["id"], noise_png((200, 200)))  # ~120 kB
    assert status == 201, error
    # Just over: the request's size is within the multipart framing allowance, so the
    # file part itself is counted as it arrives.
    just_over = noise_png((265, 265))
    assert 200 * 1024 < len(just_over) < 200 * 1024 + 60 * 1024
    status, error = await upload(server, lot["id"], just_over)
    assert (status, error["error"]["code"]) == (413, "validation_error"), error
    assert error["error"]["message"] == "The image is larger than 0.195312 MB"
    # Declared far too large: refused before a byte of it is read.
    status, error = await upload(server, lot["id"], noise_png((600, 600)))
    assert status == 413
    assert len(await images_of(server, lot["id"])) == 1
    assert len(media_files(server)) == 2  # the first image and its thumbnail


async def test_only_the_lots_seller_or_an_admin_adds_or_removes_images(server):
    lot = await create_lot(server, seller="sam")
    data = picture(size=(100, 100))
    for user, role, expected in (
        (None, "bidder", 401),
        ("bob", "bidder", 403),
        ("sue", "seller", 403),
    ):
        status, error = await upload(server, lot["id"], data, as_user=user, role=role)
        assert status == expected, (user, error)
    assert media_files(server) == []
    status, image = await upload(server, lot["id"], data, as_user="root", role="admin")
    assert status == 201
    for user, role, expected in (("bob", "bidder", 403), ("sue", "seller", 403)):
        status, _ = await server.request(
            "DELETE", f"/api/lots/{lot['id']}/images/{image['id']}", as_user=user, role=role
        )
        assert status == expected
    assert await images_of(server, lot["id"]) == [image]


async def test_images_can_be_reordered_and_removed_with_their_files(server):
    lot = await create_lot(server)
    ids = []
    for width in (100, 110, 120):
        status, image = await upload(server, lot["id"], picture(size=(width, 80)))
        assert status == 201
        ids.append(image["id"])
    assert [image["id"] for image in await images_of(server, lot["id"])] == ids

    path = f"/api/lots/{lot['id']}/images/order"
    reordered = [ids[2], ids[0], ids[1]]
    status, updated = await server.request(
        "PUT", path, as_user="sam", role="seller", json={"image_ids": reordered}
    )
    assert status == 200, updated
    assert [image["id"] for image in updated["images"]] == reordered
    assert updated["images"][0]["width"] == 120

    for bad, expected in (
        ({"image_ids": ids[:2]}, (409, "images_changed")),
        ({"image_ids": [ids[0], ids[0], ids[1]]}, (400, "validation_error")),
        ({"image_ids": [*ids, "0123456789abcdef"]}, (409, "images_changed")),
        ({"image_ids": ["nope"]}, (400, "validation_error")),
        ({"ids": ids}, (400, "validation_error")),
    ):
        status, error = await server.request("PUT", path, as_user="sam", role="seller", json=bad)
        assert (status, error["error"]["code"]) == expected, bad
    assert [image["id"] for image in await images_of(server, lot["id"])] == reordered

    first = updated["images"][0]
    status, after = await server.request(
        "DELETE", f"/api/lots/{lot['id']}/images/{first['id']}", as_user="sam", role="seller"
    )
    assert status == 200
    assert [image["id"] for image in after["images"]] == reordered[1:]
    for url in (first["url"], first["thumb_url"]):
        status, _, _ = await fetch(server, url)
        assert status == 404
    assert len(media_files(server)) == 4
    for image_id in (first["id"], "zzzz", "0123456789abcdef"):
        status, error = await server.request(
            "DELETE", f"/api/lots/{lot['id']}/images/{image_id}", as_user="sam", role="seller"
        )
        assert (status, error["error"]["code"]) == (404, "not_found")


async def test_a_closed_lot_takes_no_new_image_but_can_lose_one(server):
    lot = await create_lot(server)
    status, image = await upload(server, lot["id"], picture(size=(100, 100)))
    assert status == 201
    status, closed = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert closed["status"] == "UNSOLD"
    status, error = await upload(server, lot["id"], picture(size=(100, 100)))
    assert (status, error["error"]["code"]) == (409, "lot_not_open")
    status, error = await server.request(
        "PUT",
        f"/api/lots/{lot['id']}/images/order",
        as_user="sam",
        role="seller",
        json={"image_ids": [image["id"]]},
    )
    assert (status, error["error"]["code"]) == (409, "lot_not_open")
    status, after = await server.request(
        "DELETE", f"/api/lots/{lot['id']}/images/{image['id']}", as_user="sam", role="seller"
    )
    assert (status, after["images"]) == (200, [])
    assert media_files(server) == []


async def test_an_upload_that_is_not_one_file_part_is_refused(server):
    lot = await create_lot(server)
    path = f"/api/lots/{lot['id']}/images"
    status, error = await server.request(
        "POST", path, as_user="sam", role="seller", json={"file": "aGVsbG8="}
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")
    status, error = await upload(server, lot["id"], picture(), field="image")
    assert (status, error["error"]["fields"]) == (
        400,
        {"image": "'image' is not a field of this request"},
    )
    status, error = await upload(server, lot["id"], b"")
    assert (status, error["error"]["message"]) == (400, "Choose an image to upload")
    form = aiohttp.FormData()
    form.add_field("file", picture(size=(60, 60)), filename="a.jpg")
    form.add_field("file", picture(size=(60, 60)), filename="b.jpg")
    status, error = await server.request("POST", path, as_user="sam", role="seller", data=form)
    assert status == 400
    status, error = await server.request(
        "POST", "/api/lots/999999/images", as_user="sam", role="seller", data=b""
    )
    assert (status, error["error"]["code"]) == (404, "not_found")
    assert media_files(server) == []


async def test_concurrent_uploads_are_all_kept_in_order_of_commit(server):
    lot = await create_lot(server)
    results = await asyncio.gather(
        *(upload(server, lot["id"], picture(size=(64 + i, 64))) for i in range(6))
    )
    assert [status for status, _ in results] == [201] * 6
    stored = await images_of(server, lot["id"])
    assert sorted(image["id"] for image in stored) == sorted(image["id"] for _, image in results)
    assert len(media_files(server)) == 12


async def test_media_paths_outside_the_store_or_of_other_kinds_are_not_served(server):
    root = server.context.settings.data_dir / "media"
    (root / "lots").mkdir(parents=True)
    (root / "lots" / "notes.txt").write_text("secret")
    (root / "lots" / ".upload-x.jpg").write_bytes(b"partial")
    for path in (
        "/media/lots/notes.txt",
        "/media/lots/.upload-x.jpg",
        "/media/../settings.py",
        "/media/%2e%2e/data/x.jpg",
        "/media/lots/1/nothing.jpg",
    ):
        status, _, _ = await fetch(server, path)
        assert status == 404, path


async def test_a_large_photo_is_scaled_down_to_2048_pixels(server):
    lot = await create_lot(server)
    photo = Image.new("RGB", (6000, 4000), (200, 120, 40))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=80)
    status, image = await upload(server, lot["id"], buffer.getvalue())
    assert status == 201, image
    assert (image["width"], image["height"]) == (2048, 1365)
    status, body, _ = await fetch(server, image["url"])
    assert Image.open(io.BytesIO(body)).size == (2048, 1365)


async def test_a_malformed_multipart_body_is_a_validation_error(server):
    lot = await create_lot(server)
    path = f"/api/lots/{lot['id']}/images"
    for content_type, body in (
        ("multipart/form-data", b"no boundary given"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nnot a header line\r\n\r\n"),
        ("multipart/form-data; boundary=xyz", b"garbage without any boundary"),
        ("multipart/form-data; boundary=xyz", b"--xyz--\r\n"),
    ):
        status, error = await server.request(
            "POST",
            path,
            as_user="sam",
            role="seller",
            data=body,
            headers={"Content-Type": content_type},
        )
        assert (status, error["error"]["code"]) == (400, "validation_error"), (content_type, body)
    assert media_files(server) == []


async def test_an_upload_overtaken_by_the_close_leaves_no_file_behind(server):
    """The lot closed between the early check and the write: the files written go again."""
    from server.core.auth import Identity
    from server.core.errors import Conflict
    from server.media import images, service
    from server.media.views import MEDIA_STORE

    lot = await create_lot(server)
    processed = images.process(picture(size=(120, 90)))
    await service.precheck(server.context, lot["id"], Identity("sam", "seller"))
    status, _ = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200
    with pytest.raises(Conflict) as refused:
        await service.add_image(
            server.context, server.app[MEDIA_STORE], lot["id"], Identity("sam", "seller"), processed
        )
    assert refused.value.code == "lot_not_open"
    assert media_files(server) == []
    assert await images_of(server, lot["id"]) == []
