"""The ``s3://`` object store: Amazon S3 or any S3-compatible server, through an injected client.

Decisions:

- Bodies up to ``PART_SIZE`` (8 MiB) go in one ``PutObject`` with ``Content-MD5``; larger ones
  stream as a multipart upload, one ``PART_SIZE`` chunk in memory at a time, every part with
  its own ``Content-MD5``. Either way the server refuses bytes that changed on the way, so a
  successful ``put`` means the server holds exactly what was read. A failed multipart upload is
  aborted. The etag is S3's: the md5 hex for a single put, ``<hash>-<parts>`` for multipart
  (the MD5 of the part MD5s). ``put`` returns it as a ``PutResult`` with the part size used, so
  a caller that may not read (a put-only credential) verifies the upload from the answer alone;
  an SSE-KMS or SSE-C answer is marked as not a digest of the bytes.
  ``make_s3_client(checksum="when_supported")`` adds botocore's CRC32 to every upload and
  validates checksums on full reads; SeaweedFS accepts that too (tested), older S3-compatible
  servers may not, hence the ``when_required`` default.
- ``if_absent`` sends ``If-None-Match: *`` (on ``PutObject`` and ``CompleteMultipartUpload``),
  which S3 and SeaweedFS enforce atomically; a 412 becomes ObjectExists.
- ``list`` reads all ``ListObjectsV2`` pages, then yields in UTF-8 key order (SeaweedFS does not
  list in key order). Key, size, etag and last-modified are exact, but S3 does not list content
  types or metadata, so listed objects carry ``content_type=""`` and no metadata: ``head`` them.
- Ranges beyond the end read as empty (S3's 416 is not an error here), as on ``file://``.
- Every botocore error becomes a StoreError naming the operation, the key and what to check;
  404 becomes ObjectNotFound.

boto3 is imported only by ``make_s3_client``; this module never reads credentials itself.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypedDict, cast

from camvault.clock import Clock, utcnow
from camvault.store.base import Notify, ObjectExists, ObjectInfo, ObjectNotFound, PutResult, StoreError
from camvault.store.streams import buffered, check_range, iter_chunks, send_created_notification
from camvault.store.url import check_content_type, check_key, check_metadata

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, TagTypeDef

PART_SIZE = 8 << 20
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_PRECONDITION = {"412", "PreconditionFailed"}
_ACCESS = {"403", "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "Forbidden"}


def make_s3_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    checksum: str = "when_required",
    addressing_style: str = "auto",
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    max_attempts: int = 5,
) -> S3Client:
    """A boto3 S3 client (SigV4, standard retries). Credentials default to boto3's usual chain."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise StoreError("the s3:// store needs boto3: pip install 'camvault[aws]'") from exc
    if checksum not in {"when_required", "when_supported"}:
        raise StoreError(f"bad checksum setting {checksum!r}: use when_required or when_supported")
    if addressing_style not in {"auto", "virtual", "path"}:
        raise StoreError(f"bad addressing style {addressing_style!r}: use auto, virtual or path")
    settings: Any = checksum  # checked above: one of the literals botocore accepts
    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        request_checksum_calculation=settings,
        response_checksum_validation=settings,
        s3=cast(Any, {"addressing_style": addressing_style}),
    )
    session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key)
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


class _ObjectArgs(TypedDict):
    """What ``PutObject`` and ``CreateMultipartUpload`` share."""

    Bucket: str
    Key: str
    ContentType: str
    Metadata: dict[str, str]


class _Condition(TypedDict, total=False):
    IfNoneMatch: str


class _Upload(TypedDict):
    Bucket: str
    Key: str
    UploadId: str


class _Range(TypedDict, total=False):
    Range: str


def _content_md5(chunk: bytes) -> str:
    return base64.b64encode(hashlib.md5(chunk, usedforsecurity=False).digest()).decode("ascii")


class S3Store:
    """Objects in one S3 bucket; keys are bucket-relative (they include the URL's prefix)."""

    def __init__(
        self,
        bucket: str,
        *,
        client: S3Client,
        notify: Notify | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._bucket = bucket
        self._client = client
        self._notify = notify
        self._clock = clock

    @property
    def bucket(self) -> str:
        return self._bucket

    def put(
        self,
        key: str,
        data: BinaryIO | bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        check_key(key)
        args = _ObjectArgs(
            Bucket=self._bucket,
            Key=key,
            ContentType=check_content_type(content_type),
            Metadata=check_metadata(metadata),
        )
        parts = _regroup(iter_chunks(data, PART_SIZE))
        first = next(parts)
        condition = _Condition(IfNoneMatch="*") if if_absent else _Condition()
        try:
            if len(first) < PART_SIZE:
                answer: Mapping[str, Any] = self._client.put_object(
                    **args, **condition, Body=first, ContentMD5=_content_md5(first)
                )
                size, part_size = len(first), None
            else:
                answer, size = self._put_multipart(args, condition, first, parts)
                part_size = PART_SIZE
        except Exception as exc:
            raise self._error(exc, "store", key) from exc
        info = PutResult(
            key=key,
            size=size,
            content_type=args["ContentType"],
            last_modified=self._clock(),
            etag=str(answer.get("ETag", "")).strip('"') or None,
            metadata=args["Metadata"],
            part_size=part_size,
            etag_is_digest=not _encrypted_with_keys(answer),
        )
        send_created_notification(self._notify, bucket=self._bucket, info=info, region=self._region())
        return info

    def _put_multipart(
        self,
        args: _ObjectArgs,
        condition: _Condition,
        first: bytes,
        rest: Iterator[bytes],
    ) -> tuple[Mapping[str, Any], int]:
        """Upload ``first`` and ``rest`` as parts; (S3's answer to the completion, total size)."""
        upload_id = self._client.create_multipart_upload(**args)["UploadId"]
        where = _Upload(Bucket=self._bucket, Key=args["Key"], UploadId=upload_id)
        try:
            parts: list[CompletedPartTypeDef] = []
            size = 0
            for number, chunk in enumerate(itertools.chain([first], rest), start=1):
                part = self._client.upload_part(
                    **where, PartNumber=number, Body=chunk, ContentMD5=_content_md5(chunk)
                )
                parts.append({"PartNumber": number, "ETag": part["ETag"]})
                size += len(chunk)
            response = self._client.complete_multipart_upload(
                **where, **condition, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._abort(where)
            raise
        return cast(Mapping[str, Any], response), size

    def _abort(self, where: _Upload) -> None:
        # The original error matters more than a failed abort; S3 expires leftover uploads.
        with contextlib.suppress(Exception):
            self._client.abort_multipart_upload(**where)

    def head(self, key: str) -> ObjectInfo:
        check_key(key)
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=key)
        except Exception as exc:
            raise self._error(exc, "read facts of", key) from exc
        return ObjectInfo(
            key=key,
            size=int(response["ContentLength"]),
            content_type=str(response.get("ContentType") or ""),
            last_modified=response["LastModified"],
            etag=str(response.get("ETag", "")).strip('"') or None,
            metadata={str(k).lower(): str(v) for k, v in response.get("Metadata", {}).items()},
        )

    def open(self, key: str, start: int = 0, length: int | None = None) -> BinaryIO:
        check_key(key)
        check_range(start, length)
        if length == 0:
            self.head(key)  # still ObjectNotFound when absent
            return io.BytesIO(b"")
        extra = _Range()
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            extra["Range"] = f"bytes={start}-{end}"
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key, **extra)
        except Exception as exc:
            if _code(exc) in {"416", "InvalidRange"}:
                return io.BytesIO(b"")  # the range starts at or after the end
            raise self._error(exc, "read", key) from exc
        return buffered(response["Body"], None)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix``, in UTF-8 key order.

        The whole listing is read before the first object is yielded: S3 lists in key order,
        but SeaweedFS lists folder by folder (``cam1/a`` before ``cam1-x``), so it is sorted here.
        """
        paginator = self._client.get_paginator("list_objects_v2")
        found: list[ObjectInfo] = []
        try:
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                found.extend(
                    ObjectInfo(
                        key=item["Key"],
                        size=int(item["Size"]),
                        content_type="",
                        last_modified=item["LastModified"],
                        etag=str(item.get("ETag", "")).strip('"') or None,
                    )
                    for item in page.get("Contents", [])
                )
        except Exception as exc:
            raise self._error(exc, "list", prefix) from exc
        found.sort(key=lambda info: info.key.encode("utf-8"))
        yield from found

    def delete(self, key: str) -> None:
        check_key(key)
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        except Exception as exc:
            if _code(exc) in _NOT_FOUND:
                return
            raise self._error(exc, "delete", key) from exc

    def set_tags(self, key: str, tags: Mapping[str, str]) -> None:
        """``PutObjectTagging`` with the whole tag set; no tags is ``DeleteObjectTagging`` (the one
        way every S3 server accepts: some refuse an empty tag set)."""
        check_key(key)
        tag_set: list[TagTypeDef] = [{"Key": name, "Value": value} for name, value in tags.items()]
        try:
            if tag_set:
                self._client.put_object_tagging(Bucket=self._bucket, Key=key, Tagging={"TagSet": tag_set})
            else:
                self._client.delete_object_tagging(Bucket=self._bucket, Key=key)
        except Exception as exc:
            raise self._error(exc, "tag", key) from exc

    def presign(self, key: str, expires_s: int, *, content_disposition: str | None = None) -> str | None:
        check_key(key)
        params = {"Bucket": self._bucket, "Key": key}
        if content_disposition is not None:  # signed into the URL: S3 answers with this header
            params["ResponseContentDisposition"] = content_disposition
        return str(self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s))

    def local_path(self, key: str) -> Path | None:
        check_key(key)
        return None

    def close(self) -> None:
        self._client.close()

    def _region(self) -> str:
        return str(getattr(self._client.meta, "region_name", None) or "us-east-1")

    def _error(self, exc: Exception, operation: str, key: str) -> StoreError:
        """Translate a botocore error; anything else (a bug, a bad stream) passes unchanged."""
        if isinstance(exc, StoreError):
            return exc
        where = f"s3://{self._bucket}/{key}"
        endpoint = getattr(self._client.meta, "endpoint_url", "the S3 endpoint")
        code = _code(exc)
        if code in _NOT_FOUND:
            return ObjectNotFound(f"no object at {where}")
        if code in _PRECONDITION:
            return ObjectExists(f"an object already exists at {where}")
        if code in _ACCESS:
            return StoreError(
                f"cannot {operation} {where}: access denied ({code}): check the credentials "
                "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profile or role) and their permissions"
            )
        if code == "NoSuchBucket":
            return StoreError(
                f"cannot {operation} {where}: bucket {self._bucket!r} does not exist at "
                f"{endpoint}: create it or fix [storage] url"
            )
        if code is not None:
            return StoreError(f"cannot {operation} {where}: the server said {code}: {exc}")
        if _is_botocore(exc):
            return StoreError(
                f"cannot {operation} {where}: {exc}: check [storage] endpoint_url ({endpoint}), "
                "the network and that the S3 server is running"
            )
        raise exc


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


def _encrypted_with_keys(answer: Mapping[str, Any]) -> bool:
    """S3 answers with an ETag that is not the MD5 of the bytes for SSE-KMS and SSE-C objects."""
    encryption = str(answer.get("ServerSideEncryption") or "")
    return encryption.startswith("aws:kms") or bool(answer.get("SSECustomerAlgorithm"))


def _is_botocore(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("botocore", "urllib3"))


def _regroup(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Chunks of exactly PART_SIZE, the last one shorter (possibly empty): short reads of a
    pipe or socket never make a part too small, and a body shorter than PART_SIZE is one chunk."""
    pending = bytearray()
    full_parts = 0
    for chunk in chunks:
        pending += chunk
        while len(pending) >= PART_SIZE:
            yield bytes(pending[:PART_SIZE])
            del pending[:PART_SIZE]
            full_parts += 1
    if pending or not full_parts:
        yield bytes(pending)
