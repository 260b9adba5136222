"""Where lot images live: one small interface, a local folder behind it today.

`MediaStore` is all the rest of the server knows: put bytes under a key, delete
a key, and the URL browsers load a key from. `LocalMediaStore` keeps files
under `DATA_DIR/media` and the server serves them at `/media/{key}`; an
S3-compatible store is one more class with the same three methods (its `url`
pointing at the bucket or a CDN) and nothing else changes. Keys are made by
the server (`lots/{lot_id}/{image_id}.jpg`), never taken from a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


class MediaStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing nothing else; visible once this returns."""

    async def delete(self, key: str) -> None:
        """Remove `key`; a key that is already gone is not an error."""

    def url(self, key: str) -> str:
        """The URL a browser loads `key` from."""


class LocalMediaStore:
    """Files under `root`, served by this server at `{base_url}{key}`."""

    def __init__(self, root: Path, base_url: str = "/media/") -> None:
        self.root = root
        self.base_url = base_url

    def path(self, key: str) -> Path:
        return self.root / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self.path(key), data)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    def url(self, key: str) -> str:
        return self.base_url + key

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        """Write to a temporary file beside `target`, then rename: never a half-written image."""
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
