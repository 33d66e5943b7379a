"""Decoders for generation: which layers of an autoregressive model do what per token.

Serving a decoder runs iterations whose cost is not one fixed model: per iteration,

* *token layers* (embeddings, LNs, QKV/output projections, MLP, residual adds) process
  every new token of every request in the iteration;
* *attention layers* (scores, softmax, context) process each request's new tokens
  against its whole context (cached tokens plus new ones), so they scale with context;
* *sampling layers* (the final LN and the LM head) run once per request that samples a
  token in this iteration (vLLM computes logits only for the last position).

Each transformer block caches the keys and values of every token it has seen:
``2 x d_model x bytes_per_element`` per token per block. The cache is written by the
block's QKV projection and read by its attention products, so its home is the chiplet
that runs the block's attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcmsim.workloads.model import Model
from mcmsim.workloads.zoo.transformer import GPT2_CONFIGS, TransformerConfig

__all__ = ["ATTENTION_PARTS", "Decoder", "decoder_config", "decoder_for"]

#: The per-block attention layers, by name suffix, in block order.
ATTENTION_PARTS = ("attn.scores", "attn.softmax", "attn.context")
_SAMPLING = ("ln_f", "lm_head")


@dataclass(frozen=True)
class Decoder:
    """A decoder model's anatomy for generation.

    Attributes
    ----------
    config : TransformerConfig
        Its size (layers, width, heads, context).
    kind : numpy.ndarray
        Per layer of ``model.layers``: 0 token layer, 1 attention, 2 sampling.
    attention_part : numpy.ndarray
        Per layer: index into :data:`ATTENTION_PARTS`, or -1.
    kv_block : numpy.ndarray
        Per layer: the block whose KV cache the layer reads (its ``attn.context``
        layer only, so each block is counted once), or -1.
    """

    config: TransformerConfig
    kind: np.ndarray
    attention_part: np.ndarray
    kv_block: np.ndarray

    TOKEN, ATTENTION, SAMPLING = 0, 1, 2

    @property
    def max_context(self) -> int:
        return self.config.max_positions

    def kv_bytes_per_token_per_block(self, bytes_per_elem: int) -> int:
        """Keys and values of one token in one block."""
        return 2 * self.config.dim * bytes_per_elem

    def kv_bytes_per_token(self, bytes_per_elem: int) -> int:
        """Keys and values of one token in every block."""
        return self.config.layers * self.kv_bytes_per_token_per_block(bytes_per_elem)

    def blocks_in(self, start: int, stop: int) -> int:
        """KV-caching blocks whose attention runs in layers ``[start, stop)``."""
        return int(np.count_nonzero(self.kv_block[start:stop] >= 0))

    def attention_counts(self, start: int, stop: int) -> np.ndarray:
        """How many of each attention part lie in layers ``[start, stop)``."""
        parts = self.attention_part[start:stop]
        return np.bincount(parts[parts >= 0], minlength=len(ATTENTION_PARTS))


def decoder_config(zoo_name: str) -> TransformerConfig:
    """The size of zoo decoder ``zoo_name``.

    Raises
    ------
    ValueError
        If ``zoo_name`` is not a zoo decoder (the GPT-2 family).
    """
    config = GPT2_CONFIGS.get(zoo_name)
    if config is None:
        raise ValueError(
            f"generation needs a zoo decoder ({', '.join(GPT2_CONFIGS)}), not {zoo_name!r}"
        )
    return config


def decoder_for(zoo_name: str, model: Model) -> Decoder:
    """The anatomy of ``model``, a build of the zoo decoder ``zoo_name``.

    Raises
    ------
    ValueError
        If ``zoo_name`` is not a zoo decoder (the GPT-2 family).
    """
    config = decoder_config(zoo_name)
    n = len(model.layers)
    kind = np.zeros(n, np.int8)
    part = np.full(n, -1, np.int8)
    block = np.full(n, -1, np.int32)
    for i, layer in enumerate(model.layers):
        prefix, _, suffix = layer.name.partition(".")
        if layer.name in _SAMPLING:
            kind[i] = Decoder.SAMPLING
        elif suffix in ATTENTION_PARTS:
            kind[i] = Decoder.ATTENTION
            part[i] = ATTENTION_PARTS.index(suffix)
            if suffix == "attn.context":
                block[i] = int(prefix.removeprefix("h"))
    return Decoder(config, kind, part, block)
