"""Ingest: read a folder of raw exports (CSV, Excel, Parquet; any encoding) into canonical, de-identified tables."""
