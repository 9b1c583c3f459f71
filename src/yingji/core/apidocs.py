"""The API docs page (/api/v1/docs): Swagger UI from our own static files (vendor/swagger-ui),
started by ``core/static/core/api_docs.js``, which reads the OpenAPI URL and the CSRF token from
data- attributes. ninja's own template starts Swagger UI with an inline script (and from a CDN
when ninja is not an installed app); the Content-Security-Policy allows neither."""
from __future__ import annotations

from django.shortcuts import render
from ninja.openapi.docs import DocsBase


class SwaggerDocs(DocsBase):
    template = "core/api_docs.html"

    def render_page(self, request, api, **kwargs):
        return render(request, self.template, {
            "api": api,
            "openapi_url": self.get_openapi_url(api, kwargs),
            # the session auth checks CSRF: "Try it out" sends the token
            "add_csrf": any(getattr(a, "csrf", False) for a in (api.auth if isinstance(api.auth, (list, tuple)) else [])),
        })
