"""Render print templates to PDF with WeasyPrint, fetching nothing but our own static files.

A document is built from data that applicants typed in, so rendering must not
become a way to read the server's files or to make it call other machines:

* templates are rendered by a Jinja environment of their own with autoescape
  always on, whatever the file name, so user text can never become markup;
* WeasyPrint gets a URL fetcher that serves regular files under
  ``grants/static/`` (fonts, CSS, images) and raster images given as ``data:``
  URLs, and refuses everything else (other files, path traversal, symbolic
  links leading out, ``http(s)``, ``ftp``...). A refusal is logged and the
  resource is simply missing from the document; nothing is ever opened;
* the text font ships with the project (``grants/static/fonts/``) and the
  style sheets name only that font, so output does not depend on the fonts
  installed on the machine.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
STATIC_ROOT = PACKAGE_ROOT / "grants" / "static"
TEMPLATE_ROOT = PACKAGE_ROOT / "templates" / "pdf"
# Relative URLs in the templates and style sheets ("css/pdf.css", "../fonts/...")
# resolve against this, so they all land under the static folder.
STATIC_BASE_URL = STATIC_ROOT.as_uri() + "/"

# What a document may load from the static folder: style sheets, fonts, images.
SERVED_SUFFIXES = {
    ".css": "text/css",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}
# data: URLs carry their bytes inline (no I/O); raster images only, since an SVG or
# a style sheet could itself ask for more resources.
DATA_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
DATA_URL = re.compile(
    r"^data:(?P<type>[a-z0-9.+/-]+)(?P<params>(;[^,]*)?),(?P<data>.*)$", re.IGNORECASE | re.DOTALL
)


class FetchRefused(ValueError):
    """A resource a document asked for that the fetcher will not load."""


class StaticFileFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves only files under the static folder.

    ``served`` and ``refused`` keep the URLs asked for during one rendering,
    in order, so callers (and tests) can see exactly what a document loaded.
    """

    def __init__(self, root: Path = STATIC_ROOT) -> None:
        # WeasyPrint reads _fail_on_errors; errors stay non-fatal so a refused resource
        # leaves a gap in the document instead of failing the whole rendering.
        super().__init__(fail_on_errors=False)
        self.root = root.resolve()
        self.served: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        try:
            if url[:5].lower() == "data:":
                mime_type, body = self._data(url)
            else:
                mime_type, body = self._static_file(url)
        except FetchRefused as refusal:
            self.refused.append(url)
            log.warning("PDF rendering refused to fetch %.200s: %s", url, refusal)
            raise
        self.served.append(url)
        return URLFetcherResponse(url, body, {"Content-Type": mime_type})

    def _static_file(self, url: str) -> tuple[str, bytes]:
        parts = urlsplit(url)
        if parts.scheme.lower() != "file":
            raise FetchRefused(f"scheme {parts.scheme or '(none)'!r} is not allowed")
        if parts.netloc not in ("", "localhost"):
            raise FetchRefused("file URLs on another host are not allowed")
        requested = Path(unquote(parts.path))
        # resolve() removes '..' and follows symbolic links, so neither leads outside.
        path = requested.resolve()
        if not path.is_relative_to(self.root):
            raise FetchRefused("outside the application's static files")
        mime_type = SERVED_SUFFIXES.get(path.suffix.lower())
        if mime_type is None:
            raise FetchRefused(f"file type {path.suffix or '(none)'!r} is not served")
        if not path.is_file():
            raise FetchRefused("no such static file")
        return mime_type, path.read_bytes()

    def _data(self, url: str) -> tuple[str, bytes]:
        match = DATA_URL.match(url)
        if match is None:
            raise FetchRefused("malformed data URL")
        mime_type = match["type"].lower()
        if mime_type not in DATA_IMAGE_TYPES:
            raise FetchRefused(f"data URLs of type {mime_type!r} are not allowed")
        if ";base64" not in match["params"].lower():
            return mime_type, unquote(match["data"]).encode("latin-1", "replace")
        try:
            return mime_type, base64.b64decode(match["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FetchRefused("invalid base64 in data URL") from exc


# --------------------------------------------------------------------------
# Formatting for documents (English and French)
# --------------------------------------------------------------------------

MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June", "July",
        "August", "September", "October", "November", "December",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin", "juillet",
        "août", "septembre", "octobre", "novembre", "décembre",
    ),
}  # fmt: skip
NBSP = "\u00a0"


def format_date(day: date, language: str) -> str:
    """``date(2027, 2, 1)`` -> "1 February 2027" / "1er février 2027"."""
    if language == "fr":
        number = "1er" if day.day == 1 else str(day.day)
        return f"{number} {MONTHS['fr'][day.month - 1]} {day.year}"
    return f"{day.day} {MONTHS['en'][day.month - 1]} {day.year}"


def format_number(value: Decimal, language: str, places: int = 2) -> str:
    """``Decimal("120000.5")`` -> "120,000.50" / "120 000,50" (no-break space)."""
    text = f"{value:,.{places}f}"
    if language == "fr":
        return text.replace(",", NBSP).replace(".", ",")
    return text


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """Money with its currency, never split across lines: "EUR 120,000.00" / "120 000,00 EUR"."""
    figure = format_number(amount, language)
    if language == "fr":
        return f"{figure}{NBSP}{currency}"
    return f"{currency}{NBSP}{figure}"


def format_percent(rate: Decimal, language: str) -> str:
    """A share as a percentage: ``Decimal("0.9000")`` -> "90%" / "90 %"."""
    text = f"{rate * 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if language == "fr":
        return f"{text.replace('.', ',')}{NBSP}%"
    return f"{text}%"


@pass_context
def _date_filter(context: Context, day: date) -> str:
    return format_date(day, context["language"])


@pass_context
def _money_filter(context: Context, amount: Decimal, currency: str = "EUR") -> str:
    return format_money(amount, currency, context["language"])


@pass_context
def _number_filter(context: Context, value: Decimal, places: int = 2) -> str:
    return format_number(value, context["language"], places)


@pass_context
def _percent_filter(context: Context, rate: Decimal) -> str:
    return format_percent(rate, context["language"])


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


@cache
def environment() -> Environment:
    """The Jinja environment of the print templates: autoescape on for every template."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_ROOT),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt field fails loudly instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        {
            "long_date": _date_filter,
            "money": _money_filter,
            "number": _number_filter,
            "percent": _percent_filter,
        }
    )
    return env


def render_html(template: str, context: Mapping[str, Any]) -> str:
    """The HTML of print template ``template`` (a name under templates/pdf/)."""
    return environment().get_template(template).render(context)


def html_to_pdf(html: str, fetcher: StaticFileFetcher | None = None) -> bytes:
    """PDF bytes of ``html``; relative URLs resolve under the static folder.

    Every resource goes through ``fetcher`` (a fresh StaticFileFetcher if none).
    The same HTML gives the same bytes: no file identifier is written, and the
    document dates come from the ``dcterms.created``/``dcterms.modified`` meta
    elements of the HTML, never from the clock.
    """
    fetcher = fetcher or StaticFileFetcher()
    fonts = FontConfiguration()
    document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=fetcher)
    return document.write_pdf(font_config=fonts, pdf_identifier=False)


def render_pdf(
    template: str, context: Mapping[str, Any], fetcher: StaticFileFetcher | None = None
) -> bytes:
    """Render print template ``template`` with ``context`` to PDF bytes.

    ``context`` must hold ``language`` ("en" or "fr"), used by the formatting
    filters (``long_date``, ``money``, ``number``, ``percent``).
    """
    return html_to_pdf(render_html(template, context), fetcher)
