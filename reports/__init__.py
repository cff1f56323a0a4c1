"""Documents and exports.

`reports.pdf` renders print templates (templates/pdf/) to PDF, fetching only the
application's own static files. Nothing is imported here, so that using one
kind of document does not load the libraries of the others.
"""
