"""Settings from the environment (``SIA_*``) and the configuration models of each component."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sia_sandbox.sandbox.types import Limits


class Settings(BaseSettings):
    """Machine-level settings, read from ``SIA_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="SIA_", extra="ignore")

    home: Path = Field(Path.home() / ".sia", description="Keys and per-user state (SIA_HOME).")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "sia_sandbox",
        description="Downloaded data and converted models (SIA_CACHE_DIR).",
    )
    runs_dir: Path = Field(Path("runs"), description="Where run directories are created (SIA_RUNS_DIR).")
    backend: str = Field("local", description="Default sandbox backend (SIA_BACKEND).")
    lawbench_dir: Path | None = Field(
        None, description="A local copy of LawBench 3-3 data; when unset it is downloaded into the cache."
    )


def get_settings() -> Settings:
    return Settings()


class SandboxConfig(BaseModel):
    """How candidate and scaffold code is sandboxed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str | None = Field(None, description="Sandbox backend; None = SIA_BACKEND (default local).")
    limits: Limits = Field(default_factory=Limits, description="Default limits of scaffold sandboxes.")
    seccomp: bool = Field(True, description="Install the seccomp filter where the backend supports it.")
