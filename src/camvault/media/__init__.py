"""Probing and thumbnails with PyAV, in-process, bounded in time and memory."""
