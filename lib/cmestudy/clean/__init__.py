"""Clean: code, check and keep or set aside every ingested row, with its reason, and write ``data/processed``."""
