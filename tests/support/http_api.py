"""Requests to the API Lambda as API Gateway's HTTP API sends them (payload format 2.0), through
the handler's Mangum adapter: what the API-on-Lambda tests share."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from camvault.api.lambda_handler import ApiContainer

ACCOUNT_ID = "123456789012"
CALLER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
IAM_CALLER: dict[str, Any] = {
    "accessKey": "AKIAEXAMPLECALLER123",
    "accountId": ACCOUNT_ID,
    "callerId": "AIDAEXAMPLECALLER123",
    "cognitoIdentity": None,
    "principalOrgId": None,
    "userArn": CALLER_ARN,
    "userId": "AIDAEXAMPLECALLER123",
}
"""``requestContext.authorizer.iam`` as API Gateway fills it after verifying a SigV4 signature."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_api_event(
    method: str,
    path: str,
    *,
    host: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    iam: dict[str, Any] | None = None,
    cookies: list[str] | None = None,
) -> dict[str, Any]:
    """The event API Gateway hands the function; ``iam``: the caller its IAM authorization verified."""
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": host.split(".", 1)[0],
        "domainName": host,
        "stage": "$default",
        "requestId": "req-1",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.9",
            "userAgent": "test",
        },
    }
    if iam is not None:
        context["authorizer"] = {"iam": iam}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": host, **(headers or {})},
        "requestContext": context,
        "isBase64Encoded": body is not None,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
    if cookies:
        event["cookies"] = cookies
    return event


def invoke(container: ApiContainer, event: dict[str, Any]) -> Answer:
    """The handler's answer to ``event``, its body decoded."""
    response = container.asgi(event, SimpleNamespace(aws_request_id="req-1"))
    raw = response.get("body", "")
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
    return Answer(response["statusCode"], dict(response.get("headers") or {}), body)
