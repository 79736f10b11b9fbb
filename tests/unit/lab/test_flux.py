"""Unit tests of labctl.flux's pure parts: the artifact tarball and the pinned versions (no cluster)."""

import hashlib
import io
import tarfile

from labctl import flux


def test_pack_is_deterministic_readable_and_skips_git(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "deployment.yaml").write_text("kind: Deployment\n")
    (tmp_path / "kustomization.yaml").write_text("resources: [apps/deployment.yaml]\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    first = flux.pack(tmp_path)
    (tmp_path / "apps" / "deployment.yaml").touch()  # a new mtime, same content: same artifact
    assert flux.pack(tmp_path) == first
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["apps/deployment.yaml", "kustomization.yaml"]
        assert tar.extractfile("apps/deployment.yaml").read() == b"kind: Deployment\n"
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    assert hashlib.sha256(flux.pack(tmp_path)).digest() != hashlib.sha256(first).digest()


def test_versions_are_pinned_and_urls_are_loopback():
    pinned = flux.versions()
    assert pinned["KUSTOMIZE_CONTROLLER_VERSION"].startswith("v1.")
    assert pinned["SOURCE_CONTROLLER_VERSION"].startswith("v1.")
    assert flux.artifact_url("x.tar.gz") == "http://127.0.0.1:%d/x.tar.gz" % flux.PORTS["artifacts"]
