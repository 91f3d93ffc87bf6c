"""JAX's persistent compilation cache, on by default for the `lamoo-jax` command.

A LaMOO run is one large XLA program. On the 2-core CPU this project is developed on, the quick
start's program takes about 21 s to compile and 0.2 s to run. JAX can store compiled executables on
disk, keyed by the program, the JAX / XLA versions, the backend and the compile options, and load
them in later processes. A repeated command then skips XLA's compilation; tracing and lowering (about
5 s for the quick start) are not cached. A loaded executable is the same machine code, so results are
bit-identical.

Where the cache lives, first match wins:
- an explicit path (`lamoo-jax run --cache-dir DIR`, `enable_compilation_cache(DIR)`);
- JAX's own setting (`JAX_COMPILATION_CACHE_DIR` or `jax.config.update("jax_compilation_cache_dir", ...)`);
- `$LAMOO_JAX_CACHE_DIR`; `off` (or an empty value) disables the cache;
- `$XDG_CACHE_HOME/lamoo-jax/xla`, else `~/.cache/lamoo-jax/xla`.

JAX only stores programs that took at least `jax_persistent_cache_min_compile_time_secs` (1 s by
default) to compile. XLA's CPU loader checks a stored executable against the host's CPU features and
JAX compiles afresh when they differ, so machines of different kinds can share a folder; on some
CPUs that check rejects every entry (jax-ml/jax#38445), and the run's summary line then always says
"compiled". The cache is trusted code: do not share the folder with users you do not trust.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Iterator

import jax

ENV_VAR = "LAMOO_JAX_CACHE_DIR"
_OFF_VALUES = {"", "0", "off", "none", "false", "no"}
# The event JAX records when it loads an executable from the persistent cache (jax._src.compiler).
_CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"


def default_cache_dir() -> Path | None:
    """The cache folder when no path is given and JAX has none set: from `$LAMOO_JAX_CACHE_DIR`
    (None when it says `off`), else under `$XDG_CACHE_HOME` or `~/.cache` (None without a home)."""
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return None if value.strip().lower() in _OFF_VALUES else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = Path.home() / ".cache"
        except (RuntimeError, KeyError):  # no home directory to be found: no default cache
            return None
    return Path(base).expanduser() / "lamoo-jax" / "xla"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache; returns the folder in use, or None when disabled.

    Args:
        path: the folder (created if missing). None keeps a folder JAX already has, else uses
            `default_cache_dir()`; when that default cannot be created (a read-only home, say),
            a warning says so and the cache stays off.

    Raises:
        ValueError: when an explicitly given folder cannot be created or is not a directory.
    """
    current = jax.config.jax_compilation_cache_dir
    explicit = path is not None
    if not explicit:
        if current:
            return Path(current)
        path = default_cache_dir()
        if path is None:
            return None
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # FileExistsError included: a file where the folder should be
        message = f"compilation cache folder {str(path)!r} cannot be created: {error}"
        if explicit:
            raise ValueError(message) from None
        warnings.warn(f"{message}; compiling without the persistent cache (set {ENV_VAR} to another folder)", stacklevel=2)
        return None
    if str(path) != current:
        jax.config.update("jax_compilation_cache_dir", str(path))
        # JAX opens its cache once per process, at the first compile after a folder is set;
        # resetting lets a folder set after earlier compiles take effect.
        from jax.experimental.compilation_cache import compilation_cache

        compilation_cache.reset_cache()
    return path


class CacheHits:
    """Count of executables loaded from the persistent cache inside a `count_cache_hits` block."""

    def __init__(self) -> None:
        self.count = 0

    def _listen(self, event: str, **_) -> None:
        if event == _CACHE_HIT_EVENT:
            self.count += 1


@contextlib.contextmanager
def count_cache_hits() -> Iterator[CacheHits]:
    """Context manager: how many compiled programs came from the persistent cache meanwhile."""
    hits = CacheHits()
    jax.monitoring.register_event_listener(hits._listen)
    try:
        yield hits
    finally:
        jax.monitoring.unregister_event_listener(hits._listen)
