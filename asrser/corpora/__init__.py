"""Corpus generators (license-free stand-ins in the real layouts) and preparation of the real corpora."""
