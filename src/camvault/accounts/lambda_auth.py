"""Who may use the API on AWS Lambda, where there is no database of accounts.

A Lambda container has no disk that outlives it, so there are no users, API tokens or sessions
to look up. Two ways in remain, and every route still requires one of them:

- **the caller's IAM identity**, when ``trust_gateway_iam`` is on (``camvault.api.lambda_handler``
  switches it on: the stack's HTTP API route uses ``AWS_IAM`` authorization). API Gateway
  verifies the request's SigV4 signature and only then invokes the function, with the caller in
  the event's ``requestContext.authorizer.iam``; Mangum hands that event to the app as
  ``scope["aws.event"]``. A client chooses its headers but not the event API Gateway builds, so
  the identity is read from there and never from a header. A route left without IAM
  authorization gives events without it: 401, as for anyone else. (Whoever may call
  ``lambda:InvokeFunction`` on the function directly can write any event: grant that to nobody
  but API Gateway, which is all the stack does.)
- **the admin secret as a Bearer token** (``[auth] admin_password_hash``), for a front that
  leaves the ``Authorization`` header to the app (an AWS_IAM route cannot: SigV4 uses it).

Nobody signs in: ``POST /api/v1/login`` answers 403 saying what to send instead, a session
cookie is never recognised. API tokens are not offered either: on AWS an IAM user or role per
script does their job (revocable, scoped, and audited by AWS).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from camvault.accounts.auth_base import Authenticator, NewSession, Session, SignInUnavailable
from camvault.accounts.throttle import LoginThrottle
from camvault.clock import Clock, utcnow

if TYPE_CHECKING:
    from camvault.config.schema import AuthSettings

IAM_PREFIX = "iam:"
NO_SIGN_IN = (
    "this server offers no sign-in (the API on AWS Lambda keeps no sessions): sign each request "
    "with AWS SigV4 as an identity allowed execute-api:Invoke, or send Authorization: Bearer "
    "with the admin secret where the front passes it on"
)


class NoAccounts:
    """An ``AuthStore`` with nothing in it: no users, no API tokens, no sessions."""

    def password_hash(self, user: str) -> str | None:
        return None

    def token_name(self, token_digest: str) -> str | None:
        return None

    def put_session(self, id_digest: str, session: Session) -> None:
        raise SignInUnavailable(NO_SIGN_IN)

    def get_session(self, id_digest: str) -> Session | None:
        return None

    def delete_session(self, id_digest: str) -> None:
        return None

    def delete_sessions_expired_by(self, instant: datetime) -> None:
        return None

    def close(self) -> None:
        return None


def gateway_iam_caller(scope: Mapping[str, Any]) -> str | None:
    """``iam:ARN`` of the caller API Gateway authenticated, from the Lambda event; None when the
    event names none (no event, a route without IAM authorization, a malformed context)."""
    event = scope.get("aws.event")
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    iam = authorizer.get("iam") if isinstance(authorizer, Mapping) else None
    arn = iam.get("userArn") if isinstance(iam, Mapping) else None
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    return IAM_PREFIX + arn


class LambdaAuthenticator(Authenticator):
    """The login rules without accounts: the admin secret as Bearer token and, when trusted, the
    IAM caller API Gateway verified. No sign-in."""

    def __init__(
        self,
        *,
        admin_password_hash: str,
        throttle: LoginThrottle,
        trust_gateway_iam: bool,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(
            NoAccounts(),
            admin_password_hash=admin_password_hash,
            session_ttl=timedelta(0),
            throttle=throttle,
            clock=clock,
        )
        self.trust_gateway_iam = trust_gateway_iam

    def login(self, user: str, password: str, address: str) -> NewSession | None:
        raise SignInUnavailable(NO_SIGN_IN)

    def caller(self, request: Mapping[str, Any]) -> str | None:
        return gateway_iam_caller(request) if self.trust_gateway_iam else None


def lambda_authenticator(
    settings: AuthSettings, *, trust_gateway_iam: bool, clock: Clock = utcnow
) -> LambdaAuthenticator:
    """The rules of ``[auth]`` (admin secret, login throttling) without accounts."""
    return LambdaAuthenticator(
        admin_password_hash=settings.admin_password_hash,
        throttle=LoginThrottle(
            settings.login_attempts, timedelta(seconds=settings.login_window_seconds), clock
        ),
        trust_gateway_iam=trust_gateway_iam,
        clock=clock,
    )
