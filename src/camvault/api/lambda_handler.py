"""The REST API on AWS Lambda: ``camvault.api.lambda_handler.handler``.

The same app ``camvault api`` serves (``create_app``), wrapped in Mangum, which turns API
Gateway's HTTP API events (payload 2.0) into ASGI requests and the app's answers back. Nothing
here decides a route.

- Settings come from the environment (``CAMVAULT_STORAGE_URL``, ``CAMVAULT_CATALOG_URL`` and the
  other ``CAMVAULT_*``; ``CAMVAULT_CONFIG`` if a file is shipped), as for the processor.
- Catalog and store are built once per container, on the first invocation, and reused. The
  store is built too because media are served as presigned S3 URLs (signature v4, valid
  ``camvault.api.media.PRESIGN_SECONDS``, at most ``MAX_PRESIGN_S``), never through the
  function: Lambda answers are capped at 6 MB.
- Every route but health and login still requires auth, with no database of accounts
  (``camvault.accounts.lambda_auth``): ``handler`` trusts the IAM caller API Gateway verified
  (the stack's route requires SigV4), read from the Lambda event, never from a header; the admin
  secret works as a Bearer token; sign-in answers 403.
- Requests must name the API's own host, ``*.execute-api.REGION.amazonaws.com``: the app's
  ``Host`` check stays on, as on a local install.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from camvault.accounts.auth_base import Authenticator
from camvault.catalog.base import Catalog
from camvault.store.base import ObjectStore

MAX_PRESIGN_S = 15 * 60
"""The longest a presigned media URL may live."""


def api_hosts(region: str) -> list[str]:
    """The ``Host`` names the API answers on Lambda: its API Gateway domain."""
    return [f"*.execute-api.{region}.amazonaws.com"]


@dataclass
class ApiContainer:
    """The app of one Lambda container and what it was built from."""

    app: FastAPI
    catalog: Catalog
    store: ObjectStore
    auth: Authenticator
    asgi: Any
    loop: asyncio.AbstractEventLoop
    """The event loop Mangum runs the app on (this thread's loop)."""

    def close(self) -> None:
        self.auth.close()
        self.store.close()
        self.catalog.close()
        self.loop.close()
        asyncio.set_event_loop(None)


def build_container(env: dict[str, str], cwd: Path, *, trust_gateway_iam: bool = False) -> ApiContainer:
    """Catalog, store and app from settings in ``env``, wrapped for Lambda. With
    ``trust_gateway_iam``, a request API Gateway authenticated with IAM is let in as that caller."""
    from mangum import Mangum

    from camvault.accounts.lambda_auth import lambda_authenticator
    from camvault.api.app import create_app
    from camvault.config.loader import load_config
    from camvault.factory import open_catalog, open_store

    config = load_config(None, env, cwd, require_file=False)
    catalog = open_catalog(config)
    try:
        store = open_store(config, None)
    except BaseException:
        catalog.close()
        raise
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or config.settings.storage.region
    auth = lambda_authenticator(config.settings.auth, trust_gateway_iam=trust_gateway_iam)
    app = create_app(catalog, auth, store=store, allowed_hosts=api_hosts(region or "us-east-1"))
    loop = asyncio.new_event_loop()  # Mangum runs on the thread's loop; owning it lets close() end it
    asyncio.set_event_loop(loop)
    return ApiContainer(app, catalog, store, auth, Mangum(app, lifespan="off"), loop)


@cache
def _container() -> ApiContainer:
    """Built on first use and kept for the container's life; a failure is not cached. The
    stack's HTTP API route requires IAM authorization, so the caller it verified is trusted."""
    return build_container(dict(os.environ), Path.cwd(), trust_gateway_iam=True)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    response: dict[str, Any] = _container().asgi(event, context)
    return response
