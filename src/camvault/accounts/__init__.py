"""Cameras (and, later, users and API tokens), with secrets stored only as hashes."""
