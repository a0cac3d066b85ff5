"""The tenant's logo: PNG or SVG, checked from the bytes alone by ``platform/images.py``.

The checks themselves (PNG chunks, SVG without scripts or external references) live in
the platform, where the style templates' logos (``export``) use them too; this module is
the tenant logo's policy: PNG and SVG only, problem codes ``branding.*``.
Pure functions, no I/O: ``tenants.branding`` stores what passes.
"""

from __future__ import annotations

from typing import Final

from servanda.platform import errors, images
from servanda.platform.images import PNG_TYPE, SVG_TYPE, Logo

POLICY: Final = images.ImagePolicy(code_prefix="branding.", types=(PNG_TYPE, SVG_TYPE))
UPLOAD_MAX_BYTES: Final = POLICY.max_bytes
CONTENT_TYPES: Final = {PNG_TYPE: "png", SVG_TYPE: "svg"}

__all__ = [
    "CONTENT_TYPES",
    "PNG_TYPE",
    "POLICY",
    "SVG_TYPE",
    "UPLOAD_MAX_BYTES",
    "Logo",
    "too_large",
    "validate_logo",
]


def too_large(limit: int) -> errors.PayloadTooLarge:
    return images.too_large(POLICY, limit)


def validate_logo(data: bytes) -> Logo:
    """Decide the type from the content and validate it; raise 413, 415 or 422 domain errors."""
    return images.validate_image(data, POLICY)
