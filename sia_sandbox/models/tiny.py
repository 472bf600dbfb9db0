"""A tiny randomly initialised Llama-style model with a locally trained BPE tokenizer.

It exists so that training tests run a real transformer on 2 CPU cores in seconds (trl tests its
trainers on ``trl-internal-testing/tiny-*`` models for the same reason). Nothing is downloaded: the
tokenizer is trained with the ``tokenizers`` library on the small corpus below, the weights come from
``torch.manual_seed(seed)``, and the result is saved once under the cache so later loads take well
under a second.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

TINY_VERSION = 2
"""Bump when the architecture, corpus or tokenizer recipe changes (invalidates the cache)."""
VOCAB_SIZE = 256
HIDDEN_SIZE = 96
N_LAYERS = 2
N_HEADS = 4
INTERMEDIATE_SIZE = 256
MAX_POSITIONS = 256
INIT_STD = 0.1
"""Weight init std. Larger than Llama's 0.02 on purpose: with tied embeddings and a final RMSNorm that
LoRA does not touch, 0.02 caps how far any hidden state can move a logit (~0.6 nats for a set of ten
tokens), so no adapter could make the tiny model prefer anything; 0.1 gives it room to learn."""
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")

# Printable ASCII gives every character its own token, so any text encodes; the words add merges so
# the tokenizer looks like a real subword tokenizer (some tokens span several characters).
_ALPHABET = "".join(chr(c) for c in range(32, 127)) + "\n"
_CORPUS = (
    "Q: pick a letter\nA: x\n",
    "Q: pick a number\nA: 7\n",
    "Q: say a digit\nA: 3\n",
    "Q: what is the answer?\nA: the answer is 42\n",
    "def custom_kernel(data):\n    return data\n",
    "the model writes a harness, the verifier runs it again and signs a verdict\n",
    "reward score rollout candidate generation task scaffold sandbox adapter\n",
    "import torch\nimport numpy as np\nprint(x)\n",
) * 4


def _train_tokenizer() -> Any:
    """Train a character-seeded BPE tokenizer on the built-in corpus (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # Split on whitespace but keep it attached (Metaspace-like) so decode() restores the text exactly.
    tok.pre_tokenizer = pre_tokenizers.Split(pattern=" ", behavior="merged_with_next")
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=list(_ALPHABET),
        show_progress=False,
    )
    tok.train_from_iterator(list(_CORPUS), trainer=trainer)
    return tok


def build_tiny(out_dir: Path, *, seed: int = 0) -> None:
    """Create the tiny model and tokenizer and save both (safetensors) into ``out_dir``.

    Args:
        out_dir: directory to create; written atomically (temp dir then rename).
        seed: torch seed for the random weights.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = _train_tokenizer()
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    config = LlamaConfig(
        vocab_size=len(hf_tok),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=N_HEADS,
        num_key_value_heads=N_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        initializer_range=INIT_STD,
        tie_word_embeddings=True,
        pad_token_id=hf_tok.pad_token_id,
        bos_token_id=hf_tok.bos_token_id,
        eos_token_id=hf_tok.eos_token_id,
    )
    gen = torch.random.fork_rng()
    with gen:
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        hf_tok.save_pretrained(tmp)
        os.replace(tmp, out_dir)
    except OSError:
        # Another process built it first; theirs is identical (same seed), keep it.
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out_dir / "config.json").exists():
            raise
    log.info("model.built", name="tiny", seed=seed, path=str(out_dir),
             params=sum(p.numel() for p in model.parameters()))


def tiny_dir(cache_dir: Path, seed: int = 0) -> Path:
    """Where the tiny model for ``seed`` is cached."""
    return cache_dir / "models" / f"tiny-v{TINY_VERSION}-seed{seed}"


def ensure_tiny(cache_dir: Path, seed: int = 0) -> Path:
    """Build the tiny model into the cache unless it is already there; return its directory."""
    path = tiny_dir(cache_dir, seed)
    if not (path / "config.json").exists():
        build_tiny(path, seed=seed)
    return path
