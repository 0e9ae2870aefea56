"""crosscheck: a media verification and cross-checking pipeline for human-rights documentation.

Stages (see DESIGN.md): ingest -> signatures -> frames -> hash -> dedupe -> count -> report.
"""

__version__ = "0.1.0"
