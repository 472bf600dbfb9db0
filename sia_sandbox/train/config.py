"""``TrainConfig``: every knob of a weight update, documented like trl's trainer configs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ALGORITHMS = ("ppo", "grpo", "entropic", "reinforce_kl", "dpo", "bon_bc")


class TrainConfig(BaseModel):
    """Configuration of one LoRA weight update on verified rollouts.

    Parameters that choose the algorithm:
        algo: ``"auto"`` lets the reward-shape rule in ``train/choose.py`` decide; a name overrides it
            (the rule's pick is still recorded). See ``available_algorithms()``.
        algo_reason: why the caller overrode the rule (the Feedback-Agent's words); recorded.

    Parameters of the LoRA adapter (Hu et al. 2021; the SIA paper uses rank 32):
        lora_r, lora_alpha, lora_dropout, target_modules.

    Parameters of the optimisation:
        learning_rate, steps (optimizer steps over the given rollouts), batch_size (sequences per
        step), max_grad_norm, seed, device.

    Parameters of the objectives:
        kl_coef: weight of the KL-to-base term (PPO per-token reward shaping, REINFORCE+KL reward
            shaping, GRPO loss term). 0 disables it.
        clip_eps: PPO/GRPO ratio clip (Schulman et al. 2017).
        gamma, gae_lambda, vf_coef: GAE discount, GAE lambda and value-loss weight (Schulman et al.
            2016); PPO only.
        entropic_beta: inverse temperature of the entropic weights exp(beta * r); ``"adaptive"``
            solves KL(weights || uniform) = ln 2 per group by bisection.
        dpo_beta: DPO's beta (Rafailov et al. 2023).
        group_size: expected completions per prompt; only used to check the data and by the toy.
        max_new_tokens: generation length in the toy task and the benchmark.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algo: Literal["auto", "ppo", "grpo", "entropic", "reinforce_kl", "dpo", "bon_bc"] = Field(
        "auto", description="Algorithm, or 'auto' to pick from the reward shape."
    )
    algo_reason: str | None = Field(None, description="Why the algorithm was overridden (recorded).")
    base_model: str = Field("tiny", description="'tiny', 'gemma3-270m' or a local model directory.")
    lora_r: int = Field(32, ge=1, description="LoRA rank (SIA paper: 32).")
    lora_alpha: int = Field(64, ge=1, description="LoRA alpha; the update is scaled by alpha / r.")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: tuple[str, ...] = Field(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        description="Linear layers that get a LoRA adapter (Llama/Gemma names).",
    )
    learning_rate: float = Field(1e-4, gt=0.0, description="AdamW learning rate of the LoRA weights.")
    max_grad_norm: float = Field(1.0, gt=0.0, description="Gradient norm clip per step.")
    steps: int = Field(4, ge=1, description="Optimizer steps over the given rollouts.")
    batch_size: int = Field(8, ge=1, description="Sequences per optimizer step.")
    group_size: int = Field(8, ge=1, description="Completions per prompt expected in the data.")
    kl_coef: float = Field(0.05, ge=0.0, description="Weight of the KL-to-base term; 0 disables it.")
    clip_eps: float = Field(0.2, gt=0.0, lt=1.0, description="PPO/GRPO ratio clip epsilon.")
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="GAE discount (PPO).")
    gae_lambda: float = Field(0.95, ge=0.0, le=1.0, description="GAE lambda (PPO).")
    vf_coef: float = Field(0.5, ge=0.0, description="Value-loss weight (PPO).")
    entropic_beta: float | Literal["adaptive"] = Field(
        "adaptive", description="Entropic inverse temperature, or 'adaptive' (KL to uniform = ln 2)."
    )
    dpo_beta: float = Field(0.1, gt=0.0, description="DPO beta.")
    max_new_tokens: int = Field(8, ge=1, description="Tokens generated per completion (toy, bench).")
    seed: int = Field(0, description="Seed of torch, data order and generation.")
    device: str = Field("cpu", description="torch device, e.g. 'cpu' or 'cuda'.")
    num_threads: int | None = Field(
        None, ge=1, description="torch CPU threads; None = torch's default. Tiny models run fastest on 1."
    )

    @model_validator(mode="after")
    def _check_cross_fields(self) -> TrainConfig:
        if isinstance(self.entropic_beta, float) and self.entropic_beta <= 0.0:
            raise ValueError(
                f"entropic_beta={self.entropic_beta} must be > 0 (weights exp(beta*r) are uniform at 0); "
                "set a positive value or entropic_beta='adaptive'"
            )
        if self.algo == "auto" and self.algo_reason:
            raise ValueError(
                "algo_reason is set but algo='auto'; a reason explains an override, so set algo to the "
                "algorithm you chose or drop algo_reason"
            )
        if self.algo in ("grpo", "entropic", "dpo") and self.group_size < 2:
            raise ValueError(
                f"algo={self.algo!r} compares completions within a group but group_size={self.group_size}; "
                "set group_size >= 2 or use algo='ppo' / 'reinforce_kl'"
            )
        if self.lora_alpha < self.lora_r // 4:
            raise ValueError(
                f"lora_alpha={self.lora_alpha} with lora_r={self.lora_r} scales the update by "
                f"{self.lora_alpha / self.lora_r:.3f}, which barely trains; set lora_alpha >= lora_r "
                "(the default is 2 * lora_r)"
            )
        return self
