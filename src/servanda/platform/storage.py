"""Object storage for tenant files (exports, style templates, branding), tenant-confined.

Keys are ``{tenant_id}/{area}/{name}`` with area ``exports``, ``styles`` or
``branding``. Every operation takes the caller's tenant id (from the
authenticated principal) and rejects, with :class:`StorageKeyError`, any key
outside ``{tenant_id}/``: other tenants, ``..`` and ``.`` segments, absolute
paths, backslashes, NUL and control characters, percent-encoding, empty
segments. Segments are restricted to ``[A-Za-z0-9][A-Za-z0-9._-]*``, so a valid
key means the same thing to a file system, to S3 and in a URL.

Two adapters: :class:`DirectoryStorage` (embedded default,
``$SERVANDA_DATA_DIR/storage``) and :class:`S3Storage` (any S3-compatible
server, e.g. MinIO); :func:`storage_from_settings` picks one.

Failures of the store itself (a read-only or full disk, permissions, an unreachable or
refusing S3 server) raise :class:`StorageUnavailable`: the API answers 503
``storage.unavailable``, the export worker retries (``export.storage_failed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from pydantic import SecretStr

from servanda.platform.config import ConfigError, Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

AREAS: Final = ("exports", "styles", "branding")
MAX_KEY_LENGTH: Final = 1024
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StorageError(Exception):
    """Base class of storage failures."""


class StorageKeyError(StorageError, ValueError):
    """The key is malformed or lies outside the caller's tenant prefix."""


class ObjectNotFound(StorageError, LookupError):
    """No object under this key."""


class StorageUnavailable(StorageError):
    """The store cannot be read or written now; the cause is chained (``__cause__``)."""


_T = TypeVar("_T")


async def _in_thread(
    failures: tuple[type[Exception], ...], function: Callable[..., _T], *args: Any, **kwargs: Any
) -> _T:
    """Run a blocking store call in a worker thread; the store's own failures become StorageUnavailable."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except StorageError:
        raise
    except failures as error:
        raise StorageUnavailable(type(error).__name__) from error


def validate_key(tenant_id: uuid.UUID, key: str) -> str:
    """Return ``key`` when it is a well-formed key inside ``{tenant_id}/``; raise otherwise."""
    if not isinstance(tenant_id, uuid.UUID):
        raise StorageKeyError("tenant id must be a UUID")
    if not isinstance(key, str) or not key:
        raise StorageKeyError("empty key")
    if len(key) > MAX_KEY_LENGTH:
        raise StorageKeyError("key too long")
    if _CONTROL.search(key):
        raise StorageKeyError("control character (NUL, newline, ...) in key")
    if "\\" in key:
        raise StorageKeyError("backslash in key")
    if "%" in key:
        raise StorageKeyError("percent-encoding in key")
    if key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise StorageKeyError("absolute key")
    segments = key.split("/")
    if any(segment == "" for segment in segments):
        raise StorageKeyError("empty segment in key")
    if any(segment in (".", "..") for segment in segments):
        raise StorageKeyError("relative segment ('.' or '..') in key")
    if any(not _SEGMENT.fullmatch(segment) for segment in segments):
        raise StorageKeyError("invalid character in key segment")
    if segments[0] != str(tenant_id):
        raise StorageKeyError("key outside the caller's tenant prefix")
    if len(segments) < 3 or segments[1] not in AREAS:
        raise StorageKeyError(f"key must be {{tenant}}/{{{'|'.join(AREAS)}}}/{{name}}")
    return key


def tenant_key(tenant_id: uuid.UUID, area: str, name: str) -> str:
    """Build (and validate) ``{tenant_id}/{area}/{name}``; ``name`` may contain ``/``."""
    if area not in AREAS:
        raise StorageKeyError(f"unknown storage area {area!r}")
    return validate_key(tenant_id, f"{tenant_id}/{area}/{name}")


class Storage(Protocol):
    """What the services need from object storage; every call is confined to ``tenant_id``."""

    async def put(self, tenant_id: uuid.UUID, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, tenant_id: uuid.UUID, key: str) -> bytes: ...

    async def exists(self, tenant_id: uuid.UUID, key: str) -> bool: ...

    async def delete(self, tenant_id: uuid.UUID, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""
        ...


class DirectoryStorage:
    """Files below ``root``: directories 0700, files 0600, written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, tenant_id: uuid.UUID, key: str) -> Path:
        validate_key(tenant_id, key)
        path = (self.root / key).resolve()
        # A symlink (or anything else) leading out of the tenant's directory is refused too.
        if not path.is_relative_to(self.root / str(tenant_id)) or path == self.root / str(tenant_id):
            raise StorageKeyError("key resolves outside the caller's tenant directory")
        return path

    def _mkdirs(self, directory: Path) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        current = self.root
        for part in directory.relative_to(self.root).parts:
            current = current / part
            with contextlib.suppress(FileExistsError):
                current.mkdir(mode=0o700)

    def _put(self, path: Path, data: bytes) -> None:
        self._mkdirs(path.parent)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    @staticmethod
    def _get(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound("no such object") from None

    @staticmethod
    def _delete(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            path.unlink()

    async def put(self, tenant_id: uuid.UUID, key: str, data: bytes, content_type: str) -> None:
        await _in_thread((OSError,), self._put, self._path(tenant_id, key), data)

    async def get(self, tenant_id: uuid.UUID, key: str) -> bytes:
        return await _in_thread((OSError,), self._get, self._path(tenant_id, key))

    async def exists(self, tenant_id: uuid.UUID, key: str) -> bool:
        return await _in_thread((OSError,), self._path(tenant_id, key).is_file)

    async def delete(self, tenant_id: uuid.UUID, key: str) -> None:
        await _in_thread((OSError,), self._delete, self._path(tenant_id, key))


def _secret(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code", "")
    return str(code)


_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchBucket")


class S3Storage:
    """An S3-compatible bucket (MinIO, AWS, ...) through boto3, run in worker threads."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str | SecretStr,
        secret_key: str | SecretStr,
        *,
        region: str = "us-east-1",
    ) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self._failures: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        self._client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=_secret(access_key),
            aws_secret_access_key=_secret(secret_key),
            region_name=region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},  # MinIO and most self-hosted servers
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if _error_code(error) not in _MISSING:
                raise
        try:
            if self.region == "us-east-1":
                self._client.create_bucket(Bucket=self.bucket)
            else:
                self._client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item]
                )
        except ClientError as error:
            if _error_code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (deployment step; never implicit)."""
        await asyncio.to_thread(self._ensure_bucket)

    def _get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _MISSING:
                raise ObjectNotFound("no such object") from None
            raise
        body = response["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _MISSING:
                return False
            raise
        return True

    async def put(self, tenant_id: uuid.UUID, key: str, data: bytes, content_type: str) -> None:
        validate_key(tenant_id, key)
        await _in_thread(
            self._failures,
            self._client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
        )

    async def get(self, tenant_id: uuid.UUID, key: str) -> bytes:
        return await _in_thread(self._failures, self._get, validate_key(tenant_id, key))

    async def exists(self, tenant_id: uuid.UUID, key: str) -> bool:
        return await _in_thread(self._failures, self._exists, validate_key(tenant_id, key))

    async def delete(self, tenant_id: uuid.UUID, key: str) -> None:
        validate_key(tenant_id, key)
        await _in_thread(self._failures, self._client.delete_object, Bucket=self.bucket, Key=key)

    def presigned_url(
        self, tenant_id: uuid.UUID, key: str, expires_s: int, content_disposition: str, content_type: str
    ) -> str:
        """A GET URL for one object, valid ``expires_s`` seconds (SigV4, computed locally, no request).

        The server answers it with ``content_disposition`` and ``content_type`` as response
        headers (``response-content-disposition`` / ``response-content-type``, signed into
        the URL), so a browser saves the file under its proper name.
        """
        validate_key(tenant_id, key)
        url: str = self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition,
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires_s,
        )
        return url


def storage_from_settings(settings: Settings) -> DirectoryStorage | S3Storage:
    """S3 when ``S3_ENDPOINT`` is set (then bucket and keys are required), else the data directory."""
    if not settings.s3_endpoint:
        return DirectoryStorage(settings.servanda_data_dir.resolve() / "storage")
    bucket, access_key, secret_key = settings.s3_bucket, settings.s3_access_key, settings.s3_secret_key
    if not bucket or not access_key or not secret_key:
        missing = [
            name
            for name, value in (
                ("S3_BUCKET", bucket),
                ("S3_ACCESS_KEY", access_key),
                ("S3_SECRET_KEY", secret_key),
            )
            if not value
        ]
        raise ConfigError(f"configuration error: {', '.join(missing)}: required when S3_ENDPOINT is set")
    return S3Storage(settings.s3_endpoint, bucket, access_key, secret_key)
