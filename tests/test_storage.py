"""Object storage: tenant-confined keys, the directory adapter and the S3 adapter against a real server.

The S3 adapter is tested against moto's standalone server, started as a separate
process speaking the S3 HTTP API on 127.0.0.1. MinIO itself cannot be installed
in this environment (no binary download, no container runtime); moto's server is
a real HTTP endpoint that boto3 talks to exactly as it would to MinIO or AWS.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from servanda.platform.config import ConfigError, load_settings
from servanda.platform.storage import (
    DirectoryStorage,
    ObjectNotFound,
    S3Storage,
    StorageKeyError,
    StorageUnavailable,
    storage_from_settings,
    tenant_key,
    validate_key,
)

TENANT = uuid.UUID("a1111111-1111-4111-8111-11111111111f")
OTHER = uuid.UUID("22222222-2222-4222-8222-222222222222")
T = str(TENANT)

# Every way out of the caller's prefix we could think of; all must be refused.
TRAVERSALS = [
    "../other/x",
    f"../{OTHER}/exports/x",
    f"{OTHER}/exports/x",
    f"{OTHER}/branding/logo.png",
    f"{T}/../../etc/passwd",
    f"{T}/../{OTHER}/exports/x",
    f"{T}/exports/../../{OTHER}/exports/x",
    f"{T}/exports/..",
    f"{T}/exports/./x",
    f"{T}/exports/..%2F..%2Fx",
    f"{T}/exports/%2e%2e/x",
    f"{T}%2Fexports%2Fx",
    "/etc/passwd",
    f"/{T}/exports/x",
    "C:/Windows/win.ini",
    f"{T}\\exports\\x",
    f"{T}/exports\\..\\..\\x",
    f"{T}/exports/x\x00.pdf",
    f"{T}/exports/x\n",
    f"{T}//exports/x",
    f"{T}/exports//x",
    f"{T}/exports/",
    f"{T}/exports/x/",
    "",
    T,
    f"{T}/",
    f"{T}/exports",
    f"{T}/secrets/x",
    f"{T.upper()}/exports/x",
    f"{T}/exports/.hidden",
    f"{T}/exports/x y",
    f"{T}/exports/ü.pdf",
]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


# -- keys -----------------------------------------------------------------------------------------


def test_tenant_key_builds_keys_in_the_tenant_prefix() -> None:
    job = uuid.uuid4()
    assert tenant_key(TENANT, "exports", f"{job}.pdf") == f"{T}/exports/{job}.pdf"
    assert tenant_key(TENANT, "styles", "s1/template.docx") == f"{T}/styles/s1/template.docx"
    assert tenant_key(TENANT, "branding", "logo.svg") == f"{T}/branding/logo.svg"
    with pytest.raises(StorageKeyError):
        tenant_key(TENANT, "secrets", "x")
    with pytest.raises(StorageKeyError):
        tenant_key(TENANT, "exports", "../../x")
    with pytest.raises(StorageKeyError):
        validate_key(T, f"{T}/exports/x")  # type: ignore[arg-type]  # the tenant must be a UUID


@pytest.mark.parametrize("key", TRAVERSALS)
def test_keys_outside_the_prefix_are_rejected(key: str) -> None:
    with pytest.raises(StorageKeyError):
        validate_key(TENANT, key)


# -- directory adapter ----------------------------------------------------------------------------


def test_directory_round_trip(tmp_path: Path) -> None:
    storage = DirectoryStorage(tmp_path / "storage")
    key = tenant_key(TENANT, "exports", "job-1.pdf")
    assert run(storage.exists(TENANT, key)) is False
    with pytest.raises(ObjectNotFound):
        run(storage.get(TENANT, key))

    run(storage.put(TENANT, key, b"%PDF-1.7 first", "application/pdf"))
    assert run(storage.get(TENANT, key)) == b"%PDF-1.7 first"
    assert run(storage.exists(TENANT, key)) is True
    run(storage.put(TENANT, key, b"%PDF-1.7 second", "application/pdf"))  # atomic replace
    assert run(storage.get(TENANT, key)) == b"%PDF-1.7 second"

    path = tmp_path / "storage" / T / "exports" / "job-1.pdf"
    assert path.read_bytes() == b"%PDF-1.7 second"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "storage" / T).stat().st_mode & 0o777 == 0o700
    assert os.listdir(path.parent) == ["job-1.pdf"], "no temporary files left behind"

    run(storage.delete(TENANT, key))
    assert run(storage.exists(TENANT, key)) is False
    assert not path.exists()
    run(storage.delete(TENANT, key))  # deleting a missing object is not an error


def test_directory_tenants_are_separate(tmp_path: Path) -> None:
    storage = DirectoryStorage(tmp_path / "storage")
    mine = tenant_key(TENANT, "branding", "logo.png")
    theirs = tenant_key(OTHER, "branding", "logo.png")
    run(storage.put(TENANT, mine, b"mine", "image/png"))
    run(storage.put(OTHER, theirs, b"theirs", "image/png"))
    assert run(storage.get(TENANT, mine)) == b"mine"
    # The caller's tenant decides, not the key: tenant A cannot name tenant B's object.
    with pytest.raises(StorageKeyError):
        run(storage.get(TENANT, theirs))
    with pytest.raises(StorageKeyError):
        run(storage.exists(TENANT, theirs))
    with pytest.raises(StorageKeyError):
        run(storage.delete(TENANT, theirs))
    with pytest.raises(StorageKeyError):
        run(storage.put(TENANT, theirs, b"overwritten", "image/png"))
    assert run(storage.get(OTHER, theirs)) == b"theirs"


@pytest.mark.parametrize("key", TRAVERSALS)
def test_directory_refuses_traversal_in_every_operation(tmp_path: Path, key: str) -> None:
    root = tmp_path / "storage"
    storage = DirectoryStorage(root)
    (tmp_path / "outside.txt").write_bytes(b"do not touch")
    with pytest.raises(StorageKeyError):
        run(storage.put(TENANT, key, b"evil", "text/plain"))
    with pytest.raises(StorageKeyError):
        run(storage.get(TENANT, key))
    with pytest.raises(StorageKeyError):
        run(storage.exists(TENANT, key))
    with pytest.raises(StorageKeyError):
        run(storage.delete(TENANT, key))
    assert (tmp_path / "outside.txt").read_bytes() == b"do not touch"
    assert not root.exists() or list(root.rglob("*")) == [], "nothing written anywhere"


def test_directory_refuses_a_symlink_out_of_the_tenant(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    storage = DirectoryStorage(root)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"secret")
    (root / T / "exports").mkdir(parents=True)
    (root / T / "exports" / "link.txt").symlink_to(secret)
    (root / T / "styles").symlink_to(root / str(OTHER), target_is_directory=True)
    with pytest.raises(StorageKeyError):
        run(storage.get(TENANT, f"{T}/exports/link.txt"))
    with pytest.raises(StorageKeyError):
        run(storage.put(TENANT, f"{T}/styles/x.docx", b"x", "application/octet-stream"))
    assert secret.read_bytes() == b"secret"


def test_storage_from_settings(tmp_path: Path) -> None:
    directory = storage_from_settings(load_settings(servanda_env="test", servanda_data_dir=tmp_path))
    assert isinstance(directory, DirectoryStorage)
    assert directory.root == (tmp_path / "storage").resolve()

    s3 = storage_from_settings(
        load_settings(
            servanda_env="test",
            s3_endpoint="http://127.0.0.1:9",
            s3_bucket="servanda",
            s3_access_key="ak",
            s3_secret_key="sk",
        )
    )
    assert isinstance(s3, S3Storage)
    assert (s3.endpoint, s3.bucket) == ("http://127.0.0.1:9", "servanda")

    with pytest.raises(ConfigError, match="S3_BUCKET"):
        storage_from_settings(load_settings(servanda_env="test", s3_endpoint="http://127.0.0.1:9"))


# -- S3 adapter against a real S3 HTTP server -----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    moto_server = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "moto_server exited"
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def _s3(endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(endpoint, bucket, "test-access-key", "test-secret-key")


def _raw_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test-access-key",
        aws_secret_access_key="test-secret-key",
        region_name="us-east-1",
    )


def test_s3_bucket_is_created_only_when_asked(s3_endpoint: str) -> None:
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    storage = _s3(s3_endpoint, bucket)
    key = tenant_key(TENANT, "exports", "x.pdf")
    with pytest.raises(StorageUnavailable) as refused:  # no implicit bucket creation
        run(storage.put(TENANT, key, b"x", "application/pdf"))
    assert isinstance(refused.value.__cause__, ClientError)  # the S3 error, chained
    client = _raw_client(s3_endpoint)
    with pytest.raises(ClientError):
        client.head_bucket(Bucket=bucket)
    run(storage.ensure_bucket())
    run(storage.ensure_bucket())  # idempotent
    client.head_bucket(Bucket=bucket)


def test_s3_round_trip(s3_endpoint: str) -> None:
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    storage = _s3(s3_endpoint, bucket)
    run(storage.ensure_bucket())
    key = tenant_key(TENANT, "exports", f"{uuid.uuid4()}.docx")
    payload = os.urandom(256 * 1024)
    assert run(storage.exists(TENANT, key)) is False
    with pytest.raises(ObjectNotFound):
        run(storage.get(TENANT, key))

    run(
        storage.put(
            TENANT, key, payload, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        )
    )
    assert run(storage.exists(TENANT, key)) is True
    assert run(storage.get(TENANT, key)) == payload
    head = _raw_client(s3_endpoint).head_object(Bucket=bucket, Key=key)
    assert head["ContentType"].endswith("wordprocessingml.document")
    assert head["ContentLength"] == len(payload)

    run(storage.delete(TENANT, key))
    assert run(storage.exists(TENANT, key)) is False
    with pytest.raises(ObjectNotFound):
        run(storage.get(TENANT, key))
    run(storage.delete(TENANT, key))  # idempotent


def test_s3_enforces_the_tenant_prefix(s3_endpoint: str) -> None:
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    storage = _s3(s3_endpoint, bucket)
    run(storage.ensure_bucket())
    theirs = tenant_key(OTHER, "branding", "logo.png")
    run(storage.put(OTHER, theirs, b"theirs", "image/png"))
    with pytest.raises(StorageKeyError):
        run(storage.get(TENANT, theirs))
    with pytest.raises(StorageKeyError):
        run(storage.exists(TENANT, theirs))
    with pytest.raises(StorageKeyError):
        run(storage.delete(TENANT, theirs))
    with pytest.raises(StorageKeyError):
        run(storage.put(TENANT, theirs, b"overwritten", "image/png"))
    for key in TRAVERSALS:
        with pytest.raises(StorageKeyError):
            run(storage.put(TENANT, key, b"evil", "text/plain"))
    assert run(storage.get(OTHER, theirs)) == b"theirs"
    listing = _raw_client(s3_endpoint).list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listing.get("Contents", [])] == [theirs], "nothing else was written"
