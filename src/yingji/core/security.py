"""Security headers: the Content-Security-Policy of every response (django-csp, with the policy of
``settings.CONTENT_SECURITY_POLICY`` built by ``core.csp_policy``). X-Content-Type-Options,
Referrer-Policy and X-Frame-Options come from Django's own settings and middleware."""
from __future__ import annotations

from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.conf import settings


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with the usual case precomputed: the policy is the same string for
    every response, so it is built once. Anything that makes a response's policy differ — the
    django-csp decorators (``csp_exempt``, ``csp_update``, ``csp_replace``, ``csp``), a nonce read
    by a template, a report-only policy, the debug exemption — goes through django-csp as usual.
    (django-csp builds the policy on every response: ~0.1 ms each here.)"""

    _OVERRIDES = ("_csp_exempt", "_csp_config", "_csp_update", "_csp_replace",
                  "_csp_exempt_ro", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")

    def __init__(self, get_response=None):
        super().__init__(get_response)
        self._fast = not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) and not (
            settings.CONTENT_SECURITY_POLICY or {}).get("EXCLUDE_URL_PREFIXES")
        self._header = build_policy() if self._fast else ""
        self._debug = settings.DEBUG

    def process_response(self, request, response):
        if (not self._fast or "Content-Security-Policy" in response
                or getattr(request, "_csp_nonce", None) is not None
                or any(hasattr(response, name) for name in self._OVERRIDES)
                or (self._debug and response.status_code in (404, 500))):
            return super().process_response(request, response)
        response["Content-Security-Policy"] = self._header
        return response
