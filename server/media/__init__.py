"""Lot images: storage (`storage`), checking and resizing (`images`), rules (`service`)."""

from __future__ import annotations

from server.media.views import setup_routes

__all__ = ["setup_routes"]
