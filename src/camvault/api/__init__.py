"""The REST API under ``/api/v1`` (FastAPI), built by ``create_app`` from the parts it is given."""

API = "/api/v1"
"""The path every API route lives under."""
