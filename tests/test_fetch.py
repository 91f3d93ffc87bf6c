"""`lamoo-jax data fetch`: download from a local HTTP server on 127.0.0.1 that serves ../shared/data
under the raw.githubusercontent.com URL layout ``/{repo}/{commit}/{path}``; verify SHA-256, atomic
writes, resume, and rejection of corrupted files. The manifest's hashes are checked against the files
themselves here (hashlib), independently of the fetch code."""

from __future__ import annotations

import hashlib
import http.server
import os
import stat
import threading
from pathlib import Path

import pytest

from benchmarks.data import fetch as fetch_mod
from benchmarks.data.locate import MANIFESTS, require_files
from lamoo_jax import cli_data

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not (DATA / "nasbench201").is_dir(),
    reason=f"NAS-Bench-201 tables not found at {DATA} (../shared/data from the repo root)",
)
SPECS = MANIFESTS["nasbench201"]


class _Server:
    """Serves DATA by manifest URL path; `corrupt` names relpaths served with one byte flipped."""

    def __init__(self):
        self.requests: list[str] = []
        self.corrupt: set[str] = set()
        routes = {f"/{s.repo}/{s.commit}/{s.repo_path}": s.relpath for s in SPECS}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                owner.requests.append(self.path)
                relpath = routes.get(self.path)
                if relpath is None:
                    self.send_error(404)
                    return
                body = (DATA / relpath).read_bytes()
                if relpath in owner.corrupt:
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    with _Server() as srv:
        yield srv


def test_manifest_hashes_match_shared_data():
    for spec in SPECS:
        data = (DATA / spec.relpath).read_bytes()
        assert len(data) == spec.size
        assert hashlib.sha256(data).hexdigest() == spec.sha256
        assert len(spec.commit) == 40


def test_fetch_downloads_verifies_and_resumes(server, tmp_path):
    dest = tmp_path / "data"
    fetch_mod.fetch("nasbench201", dest=dest, base_urls=server.url, log=None)
    assert len(server.requests) == len(SPECS)
    for spec in SPECS:
        assert (dest / spec.relpath).read_bytes() == (DATA / spec.relpath).read_bytes()
    assert require_files(dest) == dest
    assert not list(dest.rglob("*.part")), "no temporary files left behind"
    umask = os.umask(0)
    os.umask(umask)
    modes = {stat.S_IMODE((dest / s.relpath).stat().st_mode) for s in SPECS}
    assert modes == {0o666 & ~umask}, "downloads get ordinary permissions, not mkstemp's 0600"

    server.requests.clear()
    fetch_mod.fetch("nasbench201", dest=dest, base_urls=server.url, log=None)
    assert server.requests == [], "files with the right hash are not downloaded again"

    # a missing and a damaged file are fetched again, nothing else
    victim, damaged = SPECS[3], SPECS[5]
    (dest / victim.relpath).unlink()
    (dest / damaged.relpath).write_bytes(b"garbage")
    fetch_mod.fetch("nasbench201", dest=dest, base_urls=server.url, log=None)
    assert sorted(server.requests) == sorted(
        f"/{s.repo}/{s.commit}/{s.repo_path}" for s in (victim, damaged)
    )
    assert (dest / damaged.relpath).read_bytes() == (DATA / damaged.relpath).read_bytes()


def test_corrupted_download_is_rejected_and_not_saved(server, tmp_path):
    spec = next(s for s in SPECS if s.relpath.endswith("eyeriss.pt"))
    server.corrupt.add(spec.relpath)
    with pytest.raises(fetch_mod.ChecksumError, match="SHA-256 mismatch"):
        fetch_mod.fetch("nasbench201", dest=tmp_path, base_urls=server.url, log=None)
    assert not (tmp_path / spec.relpath).exists()
    assert not list(tmp_path.rglob("*.part"))


def test_mirror_fallback_and_unreachable(server, tmp_path):
    dead = f"{server.url}/no-such-mirror"
    fetch_mod.fetch("nasbench201", dest=tmp_path, base_urls=[dead, server.url], log=None, include_optional=False)
    assert require_files(tmp_path) == tmp_path
    assert not (tmp_path / "nasbench201/naslib-zc/zc_nasbench201.json").exists()
    with pytest.raises(fetch_mod.FetchError, match="404"):
        fetch_mod.fetch("nasbench201", dest=tmp_path / "other", base_urls=dead, log=None)


def test_cli_entry_points(server, tmp_path, capsys):
    spec = SPECS[0]
    server.corrupt.add(spec.relpath)
    assert fetch_mod.main(["nasbench201", "--dest", str(tmp_path), "--base-url", server.url]) == 1
    assert "SHA-256 mismatch" in capsys.readouterr().err
    server.corrupt.clear()
    argv = ["data", "fetch", "nasbench201", "--dest", str(tmp_path), "--base-url", server.url]
    assert cli_data.main(argv) == 0
    assert "verified" in capsys.readouterr().out
    assert fetch_mod.file_sha256(tmp_path / spec.relpath) == spec.sha256
