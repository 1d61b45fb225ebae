"""Swagger UI at ``/docs``, served offline from the swagger_ui_bundle package (no CDN)."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from werkzeug.wrappers import Response

DOCS_HTML = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>stackpilot API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/stackpilot-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""
# Served as a file (not inline) so the page works under a strict Content-Security-Policy.
DOCS_INITIALIZER = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
"""


def swagger_assets() -> dict[str, Path]:
    """Swagger UI's files from the swagger_ui_bundle package: served locally, no CDN."""
    from swagger_ui_bundle import swagger_ui_path

    root = Path(str(swagger_ui_path))
    return {p.name: p for p in root.iterdir() if p.is_file() and p.suffix in (".js", ".css", ".png", ".map")}


def static_file(path: Path) -> Response:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    response = Response(path.read_bytes(), 200, content_type=content_type)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
