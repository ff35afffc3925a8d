"""Objects in S3-compatible storage (`s3://bucket/prefix`), read whole or by byte range with boto3.

The endpoint comes from `AWS_ENDPOINT_URL` (or the AWS config files), credentials from the usual AWS
variables and files, as for every AWS tool. Each failure becomes a one-line `DatasetError` naming the URL
and what to set. A client is made lazily per process (boto3 clients are thread-safe, but must not cross a
fork), so objects holding one can be pickled into DALI's source worker processes.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Optional

from ..errors import DatasetError, MissingFileError

S3_SCHEME = "s3://"


def is_s3_url(path: Optional[str]) -> bool:
    return bool(path) and str(path).startswith(S3_SCHEME)


def split_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix without trailing '/') of `s3://bucket/prefix`."""
    rest = url[len(S3_SCHEME):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise DatasetError(f"{url}: an S3 URL needs a bucket, as in s3://bucket/prefix; fix dataroot_gt / dataroot_lq")
    return bucket, prefix.strip("/")


def _endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or "the AWS default endpoint"


def _explain(url: str, error: Exception) -> DatasetError:
    """A one-line error for a failed request to `url`."""
    import botocore.exceptions as bx

    if isinstance(error, bx.NoCredentialsError) or isinstance(error, bx.PartialCredentialsError):
        return DatasetError(f"{url}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                            f"AWS_PROFILE, ~/.aws/credentials)")
    if isinstance(error, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return DatasetError(f"{url}: cannot reach the S3 endpoint {_endpoint()}; check the server is up and "
                            f"AWS_ENDPOINT_URL points at it")
    if isinstance(error, bx.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            return DatasetError(f"{url}: bucket {split_url(url)[0]} does not exist at {_endpoint()}; fix the URL or "
                                f"AWS_ENDPOINT_URL")
        if code in ("NoSuchKey", "404", "NotFound"):
            return MissingFileError(f"{url} does not exist; upload it (e.g. aws s3 cp --recursive) or fix the URL")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
            return DatasetError(f"{url}: access denied ({code}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and "
                                f"the bucket's permissions")
        if code == "InvalidRange":
            return DatasetError(f"{url} is shorter than its index says (truncated); upload it again")
        return DatasetError(f"{url}: S3 request failed ({code}: {error}); check the URL and the server")
    if isinstance(error, bx.BotoCoreError):
        return DatasetError(f"{url}: S3 request failed ({error}); check the URL, AWS_ENDPOINT_URL and credentials")
    raise error


class S3Objects:
    """Read access to the objects under one `s3://bucket/prefix`; names are relative to the prefix."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.bucket, self.prefix = split_url(self.url)
        self._lock = threading.Lock()
        self._client: Any = None
        self._pid = -1

    def __getstate__(self) -> dict:
        return {"url": self.url}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"])

    def _s3(self) -> Any:
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    try:
                        import boto3
                        from botocore.config import Config
                    except ImportError:
                        raise DatasetError(f"{self.url}: reading s3:// needs boto3; pip install 'dali_sr[s3]'") from None

                    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                                    read_timeout=30, max_pool_connections=64)
                    self._client, self._pid = boto3.session.Session().client("s3", config=config), os.getpid()
        return self._client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def describe(self, name: str) -> str:
        return f"{self.url}/{name}"

    def read(self, name: str, offset: int = 0, size: Optional[int] = None) -> bytes:
        """`size` bytes of object `name` from `offset` (the rest of it when `size` is None)."""
        span = f"bytes={offset}-" if size is None else f"bytes={offset}-{offset + size - 1}"
        try:
            body = self._s3().get_object(Bucket=self.bucket, Key=self._key(name), Range=span)["Body"]
            data = body.read()
        except Exception as e:  # noqa: BLE001 - translated into one line, or re-raised
            raise _explain(self.describe(name), e) from None
        if size is not None and len(data) != size:
            raise DatasetError(f"{self.describe(name)} is truncated at byte {offset + len(data)}: its index names bytes "
                               f"{offset}..{offset + size}; upload it again")
        return data

    def exists(self, name: str) -> bool:
        import botocore.exceptions as bx

        try:
            self._s3().head_object(Bucket=self.bucket, Key=self._key(name))
            return True
        except bx.ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise _explain(self.describe(name), e) from None
        except Exception as e:  # noqa: BLE001 - translated into one line, or re-raised
            raise _explain(self.describe(name), e) from None

    def upload(self, path: str, name: str) -> None:
        """Upload the local file `path` as object `name`."""
        try:
            self._s3().upload_file(path, self.bucket, self._key(name))
        except Exception as e:  # noqa: BLE001 - translated into one line, or re-raised
            raise _explain(self.describe(name), e) from None

    def close(self) -> None:
        self._client = None
