"""Documents: print templates (templates/pdf/) rendered to PDF, fetching only our own files."""

from __future__ import annotations

from .pdf import FetchRefused, StaticFileFetcher, html_to_pdf, render_pdf

__all__ = ["FetchRefused", "StaticFileFetcher", "html_to_pdf", "render_pdf"]
