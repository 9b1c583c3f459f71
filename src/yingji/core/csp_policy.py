"""The Content-Security-Policy of every response (the setting; ``core.security`` serves it).

Scripts come only from our own static files: no inline ``<script>``, no ``on*=`` attributes, no
``eval`` (htmx runs with ``allowEval: false``). Behaviour hangs on data- attributes handled by
``core/static/core/app.js``. Styles may be inline (the templates' ``<style>`` blocks, and Leaflet,
ECharts and Swagger UI set element styles). Images may also come from the configured map tile
host. This module is imported by ``settings.py``: standard library only.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

SELF = "'self'"
NONE = "'none'"
UNSAFE_INLINE = "'unsafe-inline'"


def tile_sources(tile_url: str, subdomains: str = "") -> list[str]:
    """The CSP host sources of ``YINGJI_MAP_TILE_URL`` (one or more Leaflet URL templates separated
    by ``|`` or whitespace, as ``registry.views_map`` reads it). A ``{s}`` in the host name is
    expanded over the subdomains Leaflet will use (``subdomains``, or Tianditu's 0-7 / ``abc``
    as the map page chooses); any other placeholder in the host widens its first label to ``*``."""
    sources: list[str] = []
    for url in (u for u in re.split(r"[|\s]+", tile_url or "") if u):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        netloc = parts.netloc.rsplit("@", 1)[-1]
        letters = subdomains or ("01234567" if "tianditu" in url else "abc")
        hosts = [netloc.replace("{s}", s) for s in letters] if "{s}" in netloc else [netloc]
        for host in hosts:
            if "{" in host or "}" in host:
                rest = host.split(".", 1)[1] if "." in host else ""
                if "{" in rest or "}" in rest or not rest:
                    continue   # cannot be expressed as a host source: leave it out
                host = "*." + rest
            source = f"{parts.scheme}://{host}"
            if source not in sources:
                sources.append(source)
    return sources


def content_security_policy(tile_url: str = "", subdomains: str = "") -> dict:
    """django-csp's ``CONTENT_SECURITY_POLICY`` setting."""
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF],
            "style-src": [SELF, UNSAFE_INLINE],
            "img-src": [SELF, "data:", "blob:", *tile_sources(tile_url, subdomains)],
            "font-src": [SELF, "data:"],
            "connect-src": [SELF],
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        },
    }

