"""claimstream: a streaming NLP pipeline for multilingual news."""

__version__ = "0.1.0"
