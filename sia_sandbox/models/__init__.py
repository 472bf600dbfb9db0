"""Causal language models the weight updater and the gateway load: a tiny local model and Gemma 3 270M.

Everything here works offline. torch/transformers/peft are imported inside functions so that
``import sia_sandbox`` stays light on a machine without them.
"""

from __future__ import annotations

from sia_sandbox.models.loading import available_models, load_causal_lm, model_cache_dir

__all__ = ["available_models", "load_causal_lm", "model_cache_dir"]
