"""The edges: the catalog database, contract CSVs, ffmpeg, the raw tree, the custody log."""
