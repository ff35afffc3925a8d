"""Objects in S3-compatible storage (`s3://bucket/prefix`), read whole or by byte range with boto3.

The endpoint comes from `AWS_ENDPOINT_URL` (or the AWS config files), credentials from the usual AWS
variables and files, as for every AWS tool. A client is made lazily per process (boto3 clients are
thread-safe, but must not cross a fork), so objects holding one can be pickled into DALI's source worker
processes; the request limits and the recorded object versions travel with them.

Every request runs under the limits of `IoOptions`: a connect and a read timeout per attempt, transient
failures (HTTP 5xx, throttling, reset or closed connections, timeouts, a body cut short) retried with
exponential backoff and full jitter up to `max_attempts`, and all attempts of one request within
`deadline` seconds (the last attempt's timeouts are cut to the time left). Other failures are not retried.
Once a request has given up because the endpoint could not be reached or did not answer, later requests
of the same object in the same process get one attempt each until one succeeds, so that reading a batch
again to name its failure does not wait for the whole deadline again.
Each failure becomes a one-line `DatasetError` naming the URL and what to do; no message shows the
user:password part of a URL.

The size and ETag of an object are recorded when it is first seen (`pin`, or its first request); a later
response for the same object with another size or ETag means it was replaced while being read, and is
reported as such, with both versions, instead of being mixed with what was read before.
"""
from __future__ import annotations

import os
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from ..errors import DatasetError, MissingFileError
from .io_options import IoOptions

S3_SCHEME = "s3://"
BACKOFF_FIRST = 0.1  # seconds: the longest pause before the second attempt; doubles with each attempt
BACKOFF_MAX = 5.0  # seconds: the longest pause between two attempts
MAX_POOL_CONNECTIONS = 64
_TRANSIENT_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "Throttling", "ThrottlingException",
                              "TooManyRequests", "RequestTimeout", "RequestLimitExceeded", "RequestThrottled"})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"})
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@\"'<>]*@")

T = TypeVar("T")


def is_s3_url(path: Optional[str]) -> bool:
    return bool(path) and str(path).startswith(S3_SCHEME)


def split_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix without trailing '/') of `s3://bucket/prefix`."""
    rest = url[len(S3_SCHEME):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise DatasetError(f"{url}: an S3 URL needs a bucket, as in s3://bucket/prefix; fix dataroot_gt / dataroot_lq")
    return bucket, prefix.strip("/")


def redact(text: str) -> str:
    """`text` with the `user:password@` part of every URL in it shown as `***@`."""
    return _USERINFO.sub(r"\1***@", text)


@dataclass(frozen=True)
class Version:
    """What identifies the content of an object: its size and ETag."""

    size: int
    etag: str

    def __str__(self) -> str:
        return f"{self.size} bytes, ETag {self.etag}"


def _reply_version(reply: dict) -> Version:
    """The object's version from a GET or HEAD reply (a ranged GET gives the whole size in Content-Range)."""
    content_range = reply.get("ContentRange") or ""
    size = int(content_range.rpartition("/")[2]) if content_range.rpartition("/")[2].isdigit() \
        else int(reply.get("ContentLength", -1))
    return Version(size, str(reply.get("ETag", "")))


def _transient(error: Exception) -> bool:
    """Whether a request that failed with `error` may succeed when sent again."""
    import botocore.exceptions as bx

    if isinstance(error, bx.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code in _TRANSIENT_CODES or status >= 500 or status == 429
    if isinstance(error, bx.SSLError):
        return False
    return isinstance(error, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.HTTPClientError,
                              bx.IncompleteReadError))


def _unanswered(error: Exception) -> bool:
    """Whether `error` means the endpoint could not be reached or did not answer in time."""
    import botocore.exceptions as bx

    return isinstance(error, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError))


class S3Objects:
    """Read access to the objects under one `s3://bucket/prefix`; names are relative to the prefix."""

    def __init__(self, url: str, io: IoOptions = IoOptions()):
        self.url = url.rstrip("/")
        self.bucket, self.prefix = split_url(self.url)
        self.io = io
        self._lock = threading.Lock()
        self._session: Any = None
        self._client: Any = None
        self._pid = -1
        self._versions: dict[str, Version] = {}
        self._bucket_found = False
        self._unanswered = False  # the last request gave up on an endpoint that did not answer

    def __getstate__(self) -> dict:
        with self._lock:
            return {"url": self.url, "io": self.io, "versions": dict(self._versions)}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"], state["io"])
        self._versions = state["versions"]

    # -- requests ----------------------------------------------------------------------------------------------
    def _clients(self) -> tuple[Any, Any]:
        """(boto3 session, client) of this process, made on first use (again after a fork)."""
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    try:
                        import boto3
                    except ImportError:
                        raise DatasetError(f"{self.url}: reading s3:// needs boto3; pip install 'dali_sr[s3]'") from None
                    session = boto3.session.Session()
                    self._client = self._new_client(session, self.io.connect_timeout, self.io.read_timeout)
                    self._session, self._pid = session, os.getpid()
        return self._session, self._client

    @staticmethod
    def _new_client(session: Any, connect_timeout: float, read_timeout: float) -> Any:
        from botocore.config import Config

        config = Config(retries={"total_max_attempts": 1}, connect_timeout=connect_timeout,
                        read_timeout=read_timeout, max_pool_connections=MAX_POOL_CONNECTIONS)
        return session.client("s3", config=config)

    def _attempt(self, request: Callable[[Any], T], seconds_left: float) -> T:
        """`request(client)` once, with timeouts cut to `seconds_left` if the usual ones would outlast it."""
        session, client = self._clients()
        if seconds_left >= self.io.connect_timeout + self.io.read_timeout:
            return request(client)
        with self._lock:  # a boto3 session makes one client at a time
            client = self._new_client(session, min(self.io.connect_timeout, seconds_left),
                                      min(self.io.read_timeout, seconds_left))
        try:
            return request(client)
        finally:
            client.close()

    def _call(self, url: str, request: Callable[[Any], T]) -> T:
        """`request(client)`, sent again after transient failures (see the module doc); a one-line `DatasetError`
        naming `url` when it fails for good."""
        start = time.monotonic()
        attempts = 1 if self._unanswered else self.io.max_attempts
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._attempt(request, self.io.deadline - (time.monotonic() - start))
                self._unanswered = False
                return result
            except DatasetError:
                raise
            except Exception as e:  # noqa: BLE001 - translated into one line, or re-raised
                if not _transient(e):
                    raise self._explain(url, e) from None
                elapsed = time.monotonic() - start
                pause = random.uniform(0.0, min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempt - 1)))
                if attempt >= attempts or elapsed + pause >= self.io.deadline:
                    tries = f"{attempt} attempt{'s' if attempt > 1 else ''} in {elapsed:.1f} s" + \
                        ("; earlier requests got no answer either" if self._unanswered else "")
                    self._unanswered = _unanswered(e)
                    raise self._explain(url, e, tries) from None
                time.sleep(pause)

    # -- errors ------------------------------------------------------------------------------------------------
    def endpoint(self) -> str:
        """The endpoint URL requests go to, without its user:password."""
        return redact(str(self._clients()[1].meta.endpoint_url))

    def _no_bucket(self, url: str) -> DatasetError:
        return DatasetError(f"{url}: bucket {self.bucket} not found at {self.endpoint()}; fix the URL or "
                            f"AWS_ENDPOINT_URL")

    def _explain(self, url: str, error: Exception, tries: str = "") -> DatasetError:
        """A one-line error for a failed request to `url`; `tries` says how long it was retried."""
        import botocore.exceptions as bx

        ep, gave_up = self.endpoint(), f" (gave up after {tries})" if tries else ""
        limits = "or raise io_backend.read_timeout / max_attempts / deadline"
        if isinstance(error, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            message = (f"{url}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                       f"AWS_PROFILE, ~/.aws/credentials)")
        elif isinstance(error, bx.EndpointConnectionError):
            message = (f"{url}: cannot reach the S3 endpoint {ep}{gave_up}; check the server is up and "
                       f"AWS_ENDPOINT_URL points at it")
        elif isinstance(error, bx.ConnectTimeoutError):
            message = (f"{url}: cannot reach the S3 endpoint {ep}: no connection within io_backend.connect_timeout "
                       f"({self.io.connect_timeout:g} s){gave_up}; check the server is up and AWS_ENDPOINT_URL points "
                       f"at it")
        elif isinstance(error, bx.ReadTimeoutError):
            message = (f"{url}: the S3 endpoint {ep} did not answer within io_backend.read_timeout "
                       f"({self.io.read_timeout:g} s){gave_up}; check the server, {limits}")
        elif isinstance(error, (bx.HTTPClientError, bx.IncompleteReadError)):
            message = (f"{url}: the connection to the S3 endpoint {ep} broke ({error}){gave_up}; check the server and "
                       f"the network, {limits}")
        elif isinstance(error, bx.ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return self._no_bucket(url)
            if code in _MISSING_CODES:
                return MissingFileError(f"{url} does not exist; upload it (e.g. aws s3 cp --recursive) or fix the URL")
            if code in _DENIED_CODES:
                message = (f"{url}: access denied ({code}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the "
                           f"bucket's permissions")
            elif code == "InvalidRange":
                message = f"{url} is shorter than its index says (truncated); upload it again"
            elif tries:
                message = (f"{url}: the S3 endpoint {ep} kept failing ({code}, HTTP {status}){gave_up}; check the "
                           f"server, {limits}")
            else:
                message = f"{url}: S3 request failed ({code}: {error}); check the URL and the server"
        elif isinstance(error, bx.BotoCoreError):
            message = (f"{url}: S3 request to {ep} failed ({error}){gave_up}; check the URL, AWS_ENDPOINT_URL and "
                       f"credentials")
        else:
            raise error
        return DatasetError(redact(message))

    # -- objects -----------------------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def describe(self, name: str) -> str:
        return f"{self.url}/{name}"

    def _check_version(self, name: str, seen: Version) -> None:
        """Record `seen` as the version of `name` if it is the first; refuse another than the first."""
        with self._lock:
            first = self._versions.setdefault(name, seen)
        if seen != first:
            raise DatasetError(f"{self.describe(name)} changed while being read: it was {first} when first read and "
                               f"is {seen} now; its index no longer matches it, restart once the upload is complete "
                               f"(or upload changed data under a new prefix)")

    def read(self, name: str, offset: int = 0, size: Optional[int] = None) -> bytes:
        """`size` bytes of object `name` from `offset` (the rest of it when `size` is None)."""
        span = {} if offset == 0 and size is None else \
            {"Range": f"bytes={offset}-" if size is None else f"bytes={offset}-{offset + size - 1}"}

        def get(client: Any) -> bytes:
            reply = client.get_object(Bucket=self.bucket, Key=self._key(name), **span)
            self._check_version(name, _reply_version(reply))
            return reply["Body"].read()

        data = self._call(self.describe(name), get)
        if size is not None and len(data) != size:
            raise DatasetError(f"{self.describe(name)} is truncated at byte {offset + len(data)}: its index names bytes "
                               f"{offset}..{offset + size}; upload it again")
        return data

    def _head(self, name: str) -> Optional[Version]:
        """The version of object `name` (recorded as for a read); None if it does not exist."""
        def head(client: Any) -> Version:
            version = _reply_version(client.head_object(Bucket=self.bucket, Key=self._key(name)))
            self._check_version(name, version)
            return version

        try:
            return self._call(self.describe(name), head)
        except MissingFileError:
            self._require_bucket(self.describe(name))
            return None

    def _require_bucket(self, url: str) -> None:
        """`DatasetError` if the bucket does not exist (a HEAD of a missing object cannot tell). Credentials that
        may read objects but not look at the bucket (HTTP 403) leave the question open: no error."""
        import botocore.exceptions as bx

        def head_bucket(client: Any) -> None:
            try:
                client.head_bucket(Bucket=self.bucket)
            except bx.ClientError as e:
                if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 403:
                    raise

        if self._bucket_found:
            return
        try:
            self._call(url, head_bucket)
        except MissingFileError:
            raise self._no_bucket(url) from None
        self._bucket_found = True

    def exists(self, name: str) -> bool:
        return self._head(name) is not None

    def pin(self, name: str) -> None:
        """Record the version of object `name` now, so that every later read (in any process this object is
        pickled into) must find the same; `MissingFileError` if it does not exist."""
        if self._head(name) is None:
            raise MissingFileError(f"{self.describe(name)} does not exist; upload it (e.g. aws s3 cp --recursive) or "
                                   f"fix the URL")

    def upload(self, path: str, name: str) -> None:
        """Upload the local file `path` as object `name`."""
        def put(client: Any) -> None:
            with open(path, "rb") as f:
                client.put_object(Bucket=self.bucket, Key=self._key(name), Body=f)

        self._call(self.describe(name), put)
        with self._lock:
            self._versions.pop(name, None)

    def close(self) -> None:
        self._client = None
