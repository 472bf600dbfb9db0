"""Content-addressed names of the sandbox images built from ``images/<name>/Dockerfile``.

A tag is ``sia/<name>:<sha12>`` where the hash covers every file of the build context (paths, modes and
bytes) and the id of the base image it builds on, so a changed Dockerfile, requirement pin or base gives
a new tag and a stale image is never used by mistake. ``scripts/build_images.sh`` calls this module
(``python -m sia_sandbox.sandbox.images tag|base NAME``) so the script and the backends agree on names.

Not protected against: an image pulled or built by hand under the same tag (the tag names content we
asked for; the engine's image id is what ``SandboxResult.root`` records).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from sia_sandbox.errors import BackendUnavailableError, SandboxError

CONTAINER_UID = 10001
"""The unprivileged user the project's images create (images/scaffold) and containers run as."""
CONTAINER_ENV = {"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
"""Defaults added to a spec's environment inside the project's images (the spec's own values win)."""

REPO = "sia"
BASE_TAG = "sia/base:bookworm"
"""Debian bookworm base: pulled ``debian:bookworm-slim`` or a debootstrap import (see build_images.sh)."""
IMAGES_DIR = Path(os.environ.get("SIA_IMAGES_DIR", Path(__file__).resolve().parents[2] / "images"))
"""Where the Dockerfiles live (``$SIA_IMAGES_DIR`` overrides; default ``<repo>/images``)."""
BUILD_HINT = "build the images with `make images` (scripts/build_images.sh); start the engine first with scripts/start_dockerd.sh"


def base_ref(name: str) -> str:
    """The image ``name`` builds on (its ``--build-arg BASE``).

    The verifier builds on the scaffold image so both carry the same scientific stack; trimul-cuda on
    ``$SIA_TRIMUL_BASE`` (a CUDA base) when set.
    """
    if name == "verifier":
        return image_tag("scaffold")
    if name == "trimul-cuda":
        return os.environ.get("SIA_TRIMUL_BASE", BASE_TAG)
    return BASE_TAG


def context_digest(name: str) -> str:
    """sha256 of the build context ``images/<name>/``: relative paths, exec bits and bytes, sorted.

    Raises:
        SandboxError: the directory or its Dockerfile does not exist.
    """
    ctx = IMAGES_DIR / name
    if not (ctx / "Dockerfile").is_file():
        raise SandboxError(f"no Dockerfile for image {name!r} in {ctx}", hint="see images/ for the known names")
    h = hashlib.sha256()
    for path in sorted(p for p in ctx.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = path.relative_to(ctx).as_posix()
        h.update(f"{rel}\0{path.stat().st_mode & 0o111:o}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _client() -> Any:
    try:
        import docker  # lazy: the SDK is an optional extra
    except ModuleNotFoundError as e:
        raise BackendUnavailableError("the docker Python SDK is not installed", hint="pip install 'sia_sandbox[docker]'") from e
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as e:
        raise BackendUnavailableError(f"docker engine not reachable: {e}", hint="start it with scripts/start_dockerd.sh") from e
    return client


def image_id(ref: str, client: Any | None = None) -> str | None:
    """The engine's id (``sha256:...``) of ``ref``, or None when the engine does not have it."""
    import docker

    client = client or _client()
    try:
        return str(client.images.get(ref).id)
    except docker.errors.ImageNotFound:
        return None


def image_tag(name: str, client: Any | None = None) -> str:
    """``sia/<name>:<sha12>`` for the current build context and base image.

    Raises:
        SandboxError: the base image is missing (build it first) or the context does not exist.
        BackendUnavailableError: the engine is not reachable.
    """
    base = base_ref(name)
    base_id = image_id(base, client)
    if base_id is None:
        raise SandboxError(f"base image {base} of {name!r} is not built", hint=BUILD_HINT)
    digest = hashlib.sha256(f"{context_digest(name)}\0{base_id}".encode()).hexdigest()
    return f"{REPO}/{name}:{digest[:12]}"


def ensure_image(name: str, client: Any | None = None) -> str:
    """The image id of the current ``sia/<name>`` build.

    Raises:
        SandboxError: the image for the current context is not built (hint: ``make images``).
        BackendUnavailableError: the engine is not reachable.
    """
    return _ensure(name, client or _client())[1]


def _ensure(name: str, client: Any) -> tuple[str, str]:
    tag = image_tag(name, client)
    iid = image_id(tag, client)
    if iid is None:
        stale = image_id(f"{REPO}/{name}:latest", client)
        why = f" (sia/{name}:latest exists but was built from an older context)" if stale else ""
        raise SandboxError(f"image {tag} not found{why}", hint=BUILD_HINT)
    return tag, iid


def resolve_image(image: str | None, client: Any | None = None) -> tuple[str, str]:
    """Map ``SandboxSpec.image`` to ``(reference, image id)``.

    None means the scaffold image; a bare name with a Dockerfile under ``images/`` means that image's
    current tag; anything else is an engine reference used as given.

    Raises:
        SandboxError: the image is not present in the engine.
    """
    client = client or _client()
    name = image or "scaffold"
    if "/" not in name and ":" not in name and (IMAGES_DIR / name / "Dockerfile").is_file():
        return _ensure(name, client)
    iid = image_id(name, client)
    if iid is None:
        raise SandboxError(f"image {name} not found in the docker engine", hint=BUILD_HINT)
    return name, iid


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("tag", "base", "digest"):
        print("usage: python -m sia_sandbox.sandbox.images tag|base|digest NAME", file=sys.stderr)
        return 2
    verb, name = argv
    try:
        out = {"tag": image_tag, "base": base_ref, "digest": context_digest}[verb](name)
    except SandboxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
