"""Security headers on every response.

The Content-Security-Policy allows scripts, styles, images and fonts from this site
only: no inline script or style (templates carry none, and must not), no plugins, no
framing by other sites, forms posted here only. The QR code of two-factor enrolment is
inline SVG markup (no style), allowed by `img-src`/`default-src` as part of the page.
HSTS is sent only in production: development and tests run on plain HTTP.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def security_headers(app: Flask) -> dict[str, str]:
    """The headers added to every response of this app."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if app.config["ENV_NAME"] == "production":
        headers["Strict-Transport-Security"] = (
            f"max-age={int(app.config['HSTS_MAX_AGE_SECONDS'])}; includeSubDomains"
        )
    return headers


def init_app(app: Flask) -> None:
    headers = security_headers(app)

    @app.after_request
    def _add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            # A view may set its own (e.g. a PDF shown inline): never overwrite it.
            response.headers.setdefault(name, value)
        return response
