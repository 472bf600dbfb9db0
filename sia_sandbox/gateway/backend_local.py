"""``local`` backend: a transformers causal LM (plus the current LoRA adapter) in the platform process.

Generation is serialised with a lock (one model, small machines); every call returns the completion's
token ids and their log-probabilities, which the weight updater uses as the behaviour policy.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import structlog

from sia_sandbox.errors import ConfigError
from sia_sandbox.gateway.backends import BackendRequestError, ModelBackend, register_model_backend
from sia_sandbox.gateway.types import Generation, GenerationRequest, render_messages

log = structlog.get_logger(__name__)

CURRENT_FILE = "CURRENT"
"""Optional file in ``adapters/`` naming the version to serve (e.g. ``0003``); else the highest number."""
ADAPTER_MARKER = "adapter_config.json"
"""A version directory is served only once this peft file exists (a half-written adapter is skipped)."""


def current_adapter(adapters_dir: Path | None) -> Path | None:
    """The adapter directory to serve: ``adapters/<CURRENT>`` if named, else the highest ``NNNN``; None if none.

    Raises:
        ConfigError: ``CURRENT`` names a version that does not exist or is incomplete.
    """
    if adapters_dir is None or not adapters_dir.is_dir():
        return None
    current = adapters_dir / CURRENT_FILE
    if current.is_file():
        name = current.read_text(encoding="utf-8").strip()
        target = adapters_dir / name
        if not name.isdigit() or not (target / ADAPTER_MARKER).is_file():
            raise ConfigError(
                f"{current} names adapter {name!r}, but {target} is not a complete peft adapter",
                hint=f"write an existing version number into {current} or delete it",
            )
        return target
    versions = [p for p in adapters_dir.iterdir() if p.name.isdigit() and (p / ADAPTER_MARKER).is_file()]
    return max(versions, key=lambda p: int(p.name)) if versions else None


@register_model_backend("local")
class LocalModelBackend(ModelBackend):
    """A model from ``sia_sandbox.models.load_causal_lm``, sampled with temperature/top-p.

    Args:
        model: a name ``load_causal_lm`` knows (``tiny``, ``gemma3-270m``).
        device: torch device (``cpu``, ``cuda``).
        adapters_dir: ``<run_dir>/adapters``; the served adapter follows it (see ``reload_adapter``).

    Raises:
        ConfigError: ``sia_sandbox.models`` or transformers is missing, or the model name is unknown.
    """

    def __init__(self, model: str = "tiny", *, device: str = "cpu", adapters_dir: Path | None = None) -> None:
        self._name = model
        self._device = device
        self._adapters_dir = Path(adapters_dir) if adapters_dir is not None else None
        self._lock = threading.Lock()
        self._adapter: Path | None = None
        self._model: Any = None
        self._tok: Any = None
        with self._lock:
            self._load(current_adapter(self._adapters_dir))

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def adapter_version(self) -> str | None:
        """Name of the adapter directory served now (``0003``), or None for base weights."""
        return self._adapter.name if self._adapter is not None else None

    def _load(self, adapter: Path | None) -> None:
        from sia_sandbox.models import load_causal_lm  # torch/transformers only when this backend is used

        model, tok = load_causal_lm(self._name, device=self._device, adapter_dir=adapter)
        model.eval()
        self._model, self._tok, self._adapter = model, tok, adapter
        log.info("adapter.loaded", model=self._name, adapter_version=self.adapter_version)

    def reload_adapter(self) -> str | None:
        """Serve the adapter ``adapters/`` designates now, if it changed; returns the version served.

        Called before every generation, so a new adapter is picked up by the next call.

        Raises:
            ConfigError: ``CURRENT`` names a missing or incomplete adapter (the call gets HTTP 500).
        """
        with self._lock:
            return self._reload_locked()

    def _reload_locked(self) -> str | None:
        target = current_adapter(self._adapters_dir)
        if target != self._adapter:
            self._load(target)
        return self.adapter_version

    def generate(self, request: GenerationRequest) -> Generation:
        """See ``ModelBackend.generate``."""
        with self._lock:
            self._reload_locked()
            return self._generate_locked(request)

    def _prompt_text(self, request: GenerationRequest) -> str:
        if request.messages is None:
            return request.prompt or ""
        if getattr(self._tok, "chat_template", None):
            text = self._tok.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)
            return str(text)
        return render_messages(request.messages)

    def _generate_locked(self, request: GenerationRequest) -> Generation:
        import torch

        prompt = self._prompt_text(request)
        # A chat template already starts with BOS; adding special tokens again would double it.
        enc = self._tok(prompt, return_tensors="pt", add_special_tokens=request.messages is None)
        input_ids = enc["input_ids"].to(self._model.device)
        n_prompt = int(input_ids.shape[1])
        limit = getattr(self._model.config, "max_position_embeddings", None)
        max_new = request.max_tokens
        if limit is not None:
            if n_prompt >= limit:
                raise BackendRequestError(f"prompt is {n_prompt} tokens; the model's context is {limit}")
            max_new = min(max_new, limit - n_prompt)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "return_dict_in_generate": True,
            "output_logits": True,
            "pad_token_id": self._tok.pad_token_id if self._tok.pad_token_id is not None else self._tok.eos_token_id,
        }
        if request.temperature > 0:
            kwargs.update(do_sample=True, temperature=request.temperature, top_p=request.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if request.stop:
            kwargs.update(stop_strings=request.stop, tokenizer=self._tok)
        if request.seed is not None:
            torch.manual_seed(request.seed)
        with torch.inference_mode():
            out = self._model.generate(
                input_ids=input_ids, attention_mask=enc["attention_mask"].to(self._model.device), **kwargs
            )
        ids = [int(t) for t in out.sequences[0, n_prompt:].tolist()]
        # Raw-model log-probs (temperature 1, no top-p): what a trainer recomputes for the same tokens.
        logprobs = [
            float(torch.log_softmax(step[0].float(), dim=-1)[tok].item())
            for step, tok in zip(out.logits, ids, strict=False)
        ]
        ids = ids[: len(logprobs)]
        text = self._tok.decode(ids, skip_special_tokens=True)
        for s in request.stop:
            cut = text.find(s)
            if cut >= 0:
                text = text[:cut]
        eos = self._tok.eos_token_id
        finished = bool(ids) and (ids[-1] == eos or (isinstance(eos, list) and ids[-1] in eos))
        return Generation(
            model=self._name,
            adapter_version=self.adapter_version,
            prompt=prompt,
            completion=text,
            prompt_token_ids=[int(t) for t in input_ids[0].tolist()],
            completion_token_ids=ids,
            token_logprobs=logprobs,
            prompt_tokens=n_prompt,
            completion_tokens=len(ids),
            finish_reason="length" if len(ids) >= max_new and not finished else "stop",
        )
