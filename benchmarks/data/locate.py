"""Where the NAS benchmark source files live, and which files a dataset needs.

Resolution order of the data directory (the first that is given wins; it is not searched further):

1. an explicit ``data_dir`` argument (``-P data_dir=DIR`` for ``lamoo-jax run``, ``--data-dir`` for
   ``lamoo-jax data prepare``, ``data_dir=`` in Python),
2. the environment variable ``LAMOO_JAX_DATA``,
3. the user cache directory: ``$XDG_CACHE_HOME/lamoo-jax`` or, without that variable,
   ``~/.cache/lamoo-jax`` (where ``lamoo-jax data fetch nasbench201`` puts the files by default).

A data directory is laid out like the project's ``../shared/data``: paths inside it are the
``relpath`` of the manifest below (e.g. ``nasbench201/nats-bench-landscape/nats_bench.csv``).
When files are missing, :func:`require_files` raises a short :class:`DataNotFoundError`: the
directory searched and the command that downloads the files. The per-file list (source repository,
pinned commit, URL, present or not) is :func:`describe_files`, printed by ``lamoo-jax data list``.

The manifest records, for each file, its public source (GitHub repository, commit, path in the repo,
as in the SOURCE.md files next to the data) and its SHA-256 and size, so that
:mod:`benchmarks.data.fetch` can download and verify it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "FileSpec",
    "MANIFESTS",
    "DataNotFoundError",
    "user_cache_dir",
    "resolve_data_dir",
    "missing_files",
    "require_files",
    "describe_files",
    "source_url",
]

ENV_VAR = "LAMOO_JAX_DATA"
RAW_BASE_URL = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class FileSpec:
    """One published source file.

    Attributes:
        relpath: path inside a data directory (POSIX separators).
        repo: GitHub ``owner/name`` that publishes it.
        commit: the pinned commit (40 hex digits).
        repo_path: path of the file inside that repository.
        sha256: hex SHA-256 of the file's bytes.
        size: size in bytes.
        required: whether building the problem needs it (optional files are used by tests only).
    """

    relpath: str
    repo: str
    commit: str
    repo_path: str
    sha256: str
    size: int
    required: bool = True


_FileSpec = FileSpec

_NASBENCH201: tuple[FileSpec, ...] = (
    _FileSpec("nasbench201/nats-bench-landscape/nats_bench.csv", "v-tao/nats-bench-landscape", "b307ae5fe6e8d7043cd4fe7d1c3532288271adb7",
              "nats_bench.csv",
              "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e", 3024008, required=True),
    _FileSpec("nasbench201/nas-landscapes/cifar10_avg.csv", "gabro8a/NAS-Landscapes", "abd5221948d901f765e3bc61d0175a3c1c52b802",
              "data/accuracy/cifar10_avg.csv",
              "1fc89edb42c804223ea2f520a3a65b5e10d8c34bc2d1bbca6bc4b4b38a193827", 4050037, required=True),
    _FileSpec("nasbench201_hw/help/str_arch2idx.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/str_arch2idx.pt",
              "e1d7b7cc7cf51d7c3cd6f9e726e7395bea87d7ba674e26202fb8633f963aef0d", 1536943, required=True),
    _FileSpec("nasbench201_hw/help/latency/1080ti_1.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/1080ti_1.pt",
              "4028f52b2c2441da126932e3827ae11a7f76d39818c4374c1b9ab9df236e23f4", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/1080ti_256.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/1080ti_256.pt",
              "435af0ccfab01f5dc55dc9f2e8b90ca37b396b2656e327bba5ee0b6eb9c24464", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/1080ti_32.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/1080ti_32.pt",
              "affce4fcdcf6f28622365995ef2ec018bb07d448add59f80633c0978c393cdea", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/2080ti_1.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/2080ti_1.pt",
              "38cf0e8f698abf8696c69b41a358fe9ddedf5d54cb1ae6f85b04dd8a8f89a1b3", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/2080ti_256.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/2080ti_256.pt",
              "daee655c44c46955d8318ddf0fa39254e70bab1ae723a6abc53d7b7e4e1561ae", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/2080ti_32.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/2080ti_32.pt",
              "ebc603ad325850663fc56c8e0fde52fadea28e585a8405864baa20f986eaf29d", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/essential_ph_1.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/essential_ph_1.pt",
              "a97165c8669a216b9ca046041c83a07352bd07f2a42e2d8fea8b51e7ddbcabf0", 31663, required=True),
    _FileSpec("nasbench201_hw/help/latency/eyeriss.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/eyeriss.pt",
              "6f1dd2f8c0442289a09ab78e63e49bde96489f6d455cc33d5fa5aed37edb5d03", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/fpga.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/fpga.pt",
              "6a0333c1476a3ab039d8c39e5d42ac99efe9e7f3ff521289569013fa84233b28", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/gold_6226.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/gold_6226.pt",
              "6a00f63d14f67f8007ec04519f638a90aa6ed5357cf5c0e60c391df37f186c99", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/gold_6240.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/gold_6240.pt",
              "ac6dd41f183de69bba21dec3954ac73333b7dec871e0defbcce0572d82536890", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/pixel2.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/pixel2.pt",
              "051845ddefc2bc138f21e2217f6c7827fe280c78375cbfb4b5bd252a888cb950", 31663, required=True),
    _FileSpec("nasbench201_hw/help/latency/pixel3.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/pixel3.pt",
              "cf1387da12e06b1d4541ce85f3ca4869d551084e09daf4acf024b6e21a80d465", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/raspi4.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/raspi4.pt",
              "2fae425c50bcaef7aacc5391244cd0af98bfc7fba689a8741e461cb18192f57c", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/samsung_a50.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/samsung_a50.pt",
              "0872cb4ec8ecc7ea1b3bd8c98dd705f2d0f6e4940f3af833b313e484de39b155", 31663, required=True),
    _FileSpec("nasbench201_hw/help/latency/samsung_s7.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/samsung_s7.pt",
              "dbae32364b882022adb044b2aa1af77b66f43a180930d9be4d4c13532429f0ea", 31663, required=True),
    _FileSpec("nasbench201_hw/help/latency/silver_4114.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/silver_4114.pt",
              "0cce9dc9ba62ad81c21275298a88cb0e4534db6474a878f089df0abb13293421", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/silver_4210r.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/silver_4210r.pt",
              "f976049bda39abde94b8f8cac90140cb78a5069fc145c462d6d6bc2f8450727a", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titan_rtx_1.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titan_rtx_1.pt",
              "a854dac331e2a37d7dcd6ee1f63d1bc6d73ead3aeb0a86f803f45ea1b294859e", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titan_rtx_256.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titan_rtx_256.pt",
              "cff1fba40b1743d3716cfb74c86ac2463d0682c146f356fa9095ac0d02dfb2a5", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titan_rtx_32.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titan_rtx_32.pt",
              "1258bee5501fe191530b9898a4f55a122ab30beec9c6ea74598c47a0173babed", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titanx_1.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titanx_1.pt",
              "3461cc686263bd0ce4d4cd915bfc2fe067deb139cc68da387741bd6443434cb0", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titanx_256.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titanx_256.pt",
              "04ddb80719515687bd3d722235cd5da821b50bd453a9e580b1e9d321dfb92941", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titanx_32.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titanx_32.pt",
              "9c4ca69131e34451fb1e104caa47efbe12ffec3cc47bf051613674d7af044ff2", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titanxp_1.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titanxp_1.pt",
              "935aa0041c6592bed90f2f94ff3b4d40e892c066467864b704e6583682a57b20", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titanxp_256.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titanxp_256.pt",
              "9f03206bc62b0dcfc882820de07f55dc1fb7f43f57dfc977e4f0f4b019cb5041", 141039, required=True),
    _FileSpec("nasbench201_hw/help/latency/titanxp_32.pt", "HayeonLee/HELP", "45f70eb92d0d735970a33b608d1544ad3c52f285",
              "data/nasbench201/latency/titanxp_32.pt",
              "4b6db63c7a9fb55177aa2649d70031dd86d2ed1609467ef5803dc1089a73cb1b", 141039, required=True),
    _FileSpec("nasbench201/naslib-zc/zc_nasbench201.json", "automl/NASLib", "6639fd1579010457885c641553c55b0c153045aa",
              "naslib/data/zc_nasbench201.json",
              "5dcbbcd56812a9f62164a376bc7df4082ab3af612082b6d26a845930e6eb8641", 1963032, required=False),

)

MANIFESTS: dict[str, tuple[FileSpec, ...]] = {"nasbench201": _NASBENCH201}


class DataNotFoundError(FileNotFoundError):
    """Source files of a dataset are missing from the resolved data directory.

    Attributes:
        missing: the manifest entries of the missing files (for a detailed report).
    """

    def __init__(self, message: str, missing: tuple[FileSpec, ...] = ()):
        super().__init__(message)
        self.missing = tuple(missing)


def source_url(spec: FileSpec, base_url: str = RAW_BASE_URL) -> str:
    """URL of `spec` at its pinned commit: ``{base_url}/{repo}/{commit}/{repo_path}``."""
    return f"{base_url.rstrip('/')}/{spec.repo}/{spec.commit}/{spec.repo_path}"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lamoo-jax`` or ``~/.cache/lamoo-jax``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "lamoo-jax"


def resolve_data_dir(data_dir: str | PathLike | None = None) -> tuple[Path, str]:
    """The data directory to use and where it came from (``"argument"``, ``"$LAMOO_JAX_DATA"``, ``"user cache"``)."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "argument"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    return user_cache_dir(), "user cache"


def _manifest(dataset: str) -> tuple[FileSpec, ...]:
    try:
        return MANIFESTS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(MANIFESTS))}") from None


def missing_files(data_dir: Path, dataset: str = "nasbench201", *, include_optional: bool = False) -> list[FileSpec]:
    """Manifest entries of `dataset` that are not regular files under `data_dir`."""
    return [
        spec
        for spec in _manifest(dataset)
        if (spec.required or include_optional) and not (data_dir / spec.relpath).is_file()
    ]


_ORIGIN_TEXT = {"argument": "the data_dir option", "user cache": "the user cache default"}


def require_files(data_dir: str | PathLike | None = None, dataset: str = "nasbench201") -> Path:
    """Resolve the data directory and check that every required file of `dataset` is there.

    Returns the directory. Raises :class:`DataNotFoundError` with a two-line message (the
    directory searched, how to download the files); the files themselves are in its ``missing``
    attribute and listed by ``lamoo-jax data list`` (:func:`describe_files`).
    """
    root, origin = resolve_data_dir(data_dir)
    missing = missing_files(root, dataset)
    if not missing:
        return root
    required = sum(s.required for s in _manifest(dataset))
    # Short on purpose: the full per-file list (31 files with URLs) buried the one action to take.
    lines = [
        f"{dataset}: {len(missing)} of {required} required source files are missing from the data folder "
        f"{root}, taken from {_ORIGIN_TEXT.get(origin, origin)} (the first that is set of: -P data_dir=DIR, "
        f"${ENV_VAR}, {user_cache_dir()}).",
        f"Download them with `lamoo-jax data fetch {dataset} --dest {root}`, or fetch into another DIR and set "
        f"{ENV_VAR}=DIR or pass -P data_dir=DIR (data prepare: --data-dir DIR); `lamoo-jax data list {dataset}` "
        "lists each file and its source.",
    ]
    raise DataNotFoundError("\n".join(lines), tuple(missing))


def describe_files(data_dir: str | PathLike | None = None, dataset: str = "nasbench201") -> str:
    """Every file of `dataset`: present or missing in the resolved data directory, its source
    repository, pinned commit and URL (the detail :func:`require_files` leaves out)."""
    root, origin = resolve_data_dir(data_dir)
    lines = [
        f"{dataset}: data folder {root} (from {origin})",
        "status   path in the data folder <- source repository @ pinned commit : path (optional: tests only)",
    ]
    for spec in _manifest(dataset):
        status = "present" if (root / spec.relpath).is_file() else "MISSING"
        optional = "" if spec.required else "  (optional)"
        lines.append(f"{status:8s} {spec.relpath} <- github.com/{spec.repo} @ {spec.commit} : {spec.repo_path}{optional}")
        lines.append(f"         {source_url(spec)}")
    lines.append(f"Download and verify them with: lamoo-jax data fetch {dataset} --dest {root}")
    return "\n".join(lines)
