"""fashionvision: clothing detection, landmarks, masks and consumer-to-shop retrieval."""

from __future__ import annotations

__version__ = "0.1.0"
