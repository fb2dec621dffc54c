"""The REST API under ``/api/v1`` (FastAPI), built by ``create_app`` from the parts it is given."""
