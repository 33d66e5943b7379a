"""Transformers of the zoo: GPT-2 (four sizes), BERT (base, large) and ViT-B/16.

A transformer block is laid out operator by operator, keeping its true DAG:

    LN -> QKV projection -> scores (Q K^T, per head) -> softmax -> context (P V)
       -> output projection -> residual add -> LN -> FC1 -> GELU -> FC2 -> residual add

The two attention products have no weights (both operands are activations); the
context product reads the softmax output and the V slice of the QKV projection; each
residual add reads the block input (or the first add) and the branch output. GPT-2 and
ViT normalise before each branch (pre-LN); BERT normalises after each add (post-LN).
The causal mask of GPT-2 is not exploited: the scores are computed in full, as dense
kernels do.

GPT-2 is an autoregressive decoder and has two phases: ``prefill`` runs the prompt of
``seq_len`` tokens at once; ``decode`` generates one token that attends to ``kv_len``
cached tokens and itself, so its matrix products have a single row and the attention
grows linearly with the cache. The cached keys and values are read as layer inputs
(they come from earlier steps, not from a layer of this graph).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

from mcmsim.workloads.builders import conv2d, elementwise, embedding, matmul, norm, softmax
from mcmsim.workloads.model import Model, ModelBuilder
from mcmsim.workloads.zoo import register

__all__ = ["BERT_CONFIGS", "GPT2_CONFIGS", "TransformerConfig", "bert", "gpt2", "vit_b16"]

#: GELU, tanh approximation: cube (2), three scalings, two adds and a tanh (~4) per element.
_GELU_OPS = 12
#: tanh as (e^2x - 1) / (e^2x + 1): an exponential, two adds and a divide per element.
_TANH_OPS = 4


@dataclass(frozen=True)
class TransformerConfig:
    """Shape of a transformer encoder or decoder stack.

    Parameters
    ----------
    layers : int
        Transformer blocks.
    dim : int
        Hidden size ``d``; the feed-forward inner size is ``4 d``.
    heads : int
        Attention heads (``dim`` must divide evenly).
    vocab : int
        Token vocabulary (rows of the token embedding).
    max_positions : int
        Rows of the learned position embedding: the longest sequence.
    """

    layers: int
    dim: int
    heads: int
    vocab: int
    max_positions: int

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def ffn(self) -> int:
        return 4 * self.dim


#: GPT-2 sizes (Radford et al., 2019, Table 2; vocabulary and context from the released
#: models). Parameters with the tied LM head: 124.4 M, 354.8 M, 774.0 M, 1557.6 M.
GPT2_CONFIGS = {
    "gpt2": TransformerConfig(12, 768, 12, 50257, 1024),
    "gpt2-medium": TransformerConfig(24, 1024, 16, 50257, 1024),
    "gpt2-large": TransformerConfig(36, 1280, 20, 50257, 1024),
    "gpt2-xl": TransformerConfig(48, 1600, 25, 50257, 1024),
}

#: BERT sizes (Devlin et al., 2019, Section 3; WordPiece vocabulary of the released
#: uncased models). Parameters with embeddings and pooler: 109.5 M and 335.1 M.
BERT_CONFIGS = {
    "bert-base": TransformerConfig(12, 768, 12, 30522, 512),
    "bert-large": TransformerConfig(24, 1024, 16, 30522, 512),
}

#: Segment (token-type) embedding rows of BERT: sentence A and sentence B.
_BERT_TOKEN_TYPES = 2

#: ViT-B/16 (Dosovitskiy et al., 2021, Table 1); tokens come from patches, not a vocabulary.
_VIT_B16 = TransformerConfig(12, 768, 12, 0, 0)
_VIT_PATCH = 16
_VIT_CLASSES = 1000


def _attention(
    builder: ModelBuilder, prefix: str, cfg: TransformerConfig, tokens: int, span: int
) -> str:
    """Multi-head self-attention of ``tokens`` queries over ``span`` keys, fed by the last layer."""
    d, heads, dh = cfg.dim, cfg.heads, cfg.head_dim
    qkv = builder.add(matmul(f"{prefix}.qkv", tokens, d, 3 * d, bias=True))
    builder.add(matmul(f"{prefix}.scores", tokens, dh, span, heads=heads, weights=False))
    probs = builder.add(softmax(f"{prefix}.softmax", heads * tokens * span))
    builder.add(
        matmul(f"{prefix}.context", tokens, span, dh, heads=heads, weights=False),
        inputs=[probs, qkv],
    )
    return builder.add(matmul(f"{prefix}.proj", tokens, d, d, bias=True))


def _mlp(builder: ModelBuilder, prefix: str, cfg: TransformerConfig, tokens: int) -> str:
    """The feed-forward branch FC1 -> GELU -> FC2, fed by the last layer."""
    builder.add(matmul(f"{prefix}.fc1", tokens, cfg.dim, cfg.ffn, bias=True))
    builder.add(elementwise(f"{prefix}.gelu", tokens * cfg.ffn, ops_per_elem=_GELU_OPS))
    return builder.add(matmul(f"{prefix}.fc2", tokens, cfg.ffn, cfg.dim, bias=True))


def _residual(builder: ModelBuilder, name: str, tokens: int, dim: int, inputs: list[str]) -> str:
    return builder.add(elementwise(name, tokens * dim, inputs=2), inputs)


def _pre_ln_block(
    builder: ModelBuilder, prefix: str, cfg: TransformerConfig, tokens: int, span: int
) -> str:
    """A GPT-2 / ViT block: each branch normalises its input and adds to the stream."""
    block_input = builder.last
    assert block_input is not None  # blocks always follow the embedding
    builder.add(norm(f"{prefix}.ln1", tokens * cfg.dim, cfg.dim))
    attn = _attention(builder, f"{prefix}.attn", cfg, tokens, span)
    mid = _residual(builder, f"{prefix}.add1", tokens, cfg.dim, [block_input, attn])
    builder.add(norm(f"{prefix}.ln2", tokens * cfg.dim, cfg.dim))
    mlp = _mlp(builder, f"{prefix}.mlp", cfg, tokens)
    return _residual(builder, f"{prefix}.add2", tokens, cfg.dim, [mid, mlp])


def _post_ln_block(builder: ModelBuilder, prefix: str, cfg: TransformerConfig, tokens: int) -> str:
    """A BERT block: each branch adds to the stream, which is then normalised."""
    block_input = builder.last
    assert block_input is not None  # blocks always follow the embedding
    attn = _attention(builder, f"{prefix}.attn", cfg, tokens, tokens)
    _residual(builder, f"{prefix}.add1", tokens, cfg.dim, [block_input, attn])
    mid = builder.add(norm(f"{prefix}.ln1", tokens * cfg.dim, cfg.dim))
    mlp = _mlp(builder, f"{prefix}.mlp", cfg, tokens)
    _residual(builder, f"{prefix}.add2", tokens, cfg.dim, [mid, mlp])
    return builder.add(norm(f"{prefix}.ln2", tokens * cfg.dim, cfg.dim))


def gpt2(
    name: str,
    cfg: TransformerConfig,
    seq_len: int,
    phase: Literal["prefill", "decode"],
    kv_len: int | None,
) -> Model:
    """A GPT-2 decoder with a tied LM head, in its prefill or decode phase.

    Parameters
    ----------
    name : str
        Model name.
    cfg : TransformerConfig
        Size, one of :data:`GPT2_CONFIGS`.
    seq_len : int
        Prompt length; in the decode phase it is the default ``kv_len``.
    phase : {"prefill", "decode"}
        ``prefill`` processes ``seq_len`` tokens (logits for every position, as a
        forward pass of the released model computes); ``decode`` processes one new
        token against ``kv_len`` cached ones.
    kv_len : int or None
        Cached tokens in the decode phase (default ``seq_len``: the first token
        generated after the prompt); must be None for prefill.

    Returns
    -------
    Model

    Raises
    ------
    ValueError
        For an unknown phase, ``kv_len`` given in prefill, or a sequence longer than
        the position embedding.
    """
    if phase == "prefill":
        if kv_len is not None:
            raise ValueError(f"{name}: kv_len applies to the decode phase only")
        tokens = span = seq_len
    elif phase == "decode":
        tokens, span = 1, (seq_len if kv_len is None else kv_len) + 1
    else:
        raise ValueError(f"{name}: phase must be 'prefill' or 'decode', not {phase!r}")
    if not 1 <= span <= cfg.max_positions:
        raise ValueError(f"{name}: {span} positions outside 1..{cfg.max_positions}")

    d = cfg.dim
    builder = ModelBuilder(name, tokens)
    wte = builder.add(embedding("wte", cfg.vocab, d, tokens), inputs=())
    wpe = builder.add(embedding("wpe", cfg.max_positions, d, tokens), inputs=())
    builder.add(elementwise("embed.add", tokens * d, inputs=2), inputs=[wte, wpe])
    for i in range(cfg.layers):
        _pre_ln_block(builder, f"h{i}", cfg, tokens, span)
    builder.add(norm("ln_f", tokens * d, d))
    builder.add(matmul("lm_head", tokens, d, cfg.vocab, tied=True))
    return builder.build()


def bert(name: str, cfg: TransformerConfig, seq_len: int) -> Model:
    """A BERT encoder with its pooler, without the pre-training heads.

    Parameters
    ----------
    name : str
        Model name.
    cfg : TransformerConfig
        Size, one of :data:`BERT_CONFIGS`.
    seq_len : int
        Tokens in the input sequence.

    Returns
    -------
    Model

    Raises
    ------
    ValueError
        If ``seq_len`` exceeds the position embedding.
    """
    if not 1 <= seq_len <= cfg.max_positions:
        raise ValueError(f"{name}: seq_len {seq_len} outside 1..{cfg.max_positions}")
    d = cfg.dim
    builder = ModelBuilder(name, seq_len)
    sources = [
        builder.add(embedding("embed.word", cfg.vocab, d, seq_len), inputs=()),
        builder.add(embedding("embed.position", cfg.max_positions, d, seq_len), inputs=()),
        builder.add(embedding("embed.token_type", _BERT_TOKEN_TYPES, d, seq_len), inputs=()),
    ]
    builder.add(elementwise("embed.add", seq_len * d, inputs=3), inputs=sources)
    builder.add(norm("embed.ln", seq_len * d, d))
    for i in range(cfg.layers):
        _post_ln_block(builder, f"layer{i}", cfg, seq_len)
    # The pooler transforms the [CLS] token only.
    builder.add(matmul("pooler.dense", 1, d, d, bias=True))
    builder.add(elementwise("pooler.tanh", d, ops_per_elem=_TANH_OPS))
    return builder.build()


for _name, _cfg in GPT2_CONFIGS.items():
    register(
        _name,
        f"GPT-2 {_cfg.layers} layers, d={_cfg.dim}, {_cfg.heads} heads; prefill or decode",
        seq_len=128,
        phase="prefill",
        kv_len=None,
    )(partial(gpt2, _name, _cfg))

for _name, _cfg in BERT_CONFIGS.items():
    register(_name, f"BERT {_cfg.layers} layers, d={_cfg.dim}, with pooler", seq_len=128)(
        partial(bert, _name, _cfg)
    )


@register("vit-b16", "Vision Transformer ViT-B/16 (torchvision)", image_size=224)
def vit_b16(image_size: int) -> Model:
    """ViT-B/16 (Dosovitskiy et al., 2021) as defined by torchvision.

    A 16x16, stride-16 convolution embeds the patches; a class token and a learned
    position embedding (one row per patch plus the class token) are added; 12 pre-LN
    blocks and a final LN follow, and a linear head classifies the class token. At
    224x224 (197 tokens): 17.56 G MACs and 86,567,656 parameters (torchvision model
    table). Other sizes get a position embedding of matching length.

    Parameters
    ----------
    image_size : int
        Height and width of the RGB input, a multiple of 16.

    Returns
    -------
    Model

    Raises
    ------
    ValueError
        If ``image_size`` is not a multiple of the patch size.
    """
    if image_size % _VIT_PATCH:
        raise ValueError(f"vit-b16: image_size {image_size} must be a multiple of {_VIT_PATCH}")
    cfg, d = _VIT_B16, _VIT_B16.dim
    tokens = (image_size // _VIT_PATCH) ** 2 + 1
    builder = ModelBuilder("vit-b16", 3 * image_size**2)
    patches = builder.add(
        conv2d("conv_proj", 3, d, image_size, image_size, _VIT_PATCH, _VIT_PATCH, bias=True)
    )
    cls = builder.add(embedding("class_token", 1, d, 1), inputs=())
    pos = builder.add(embedding("pos_embedding", tokens, d, tokens), inputs=())
    # Prepending the class token is a concatenation: the add reads both parts directly.
    builder.add(elementwise("pos_add", tokens * d, inputs=2), inputs=[patches, cls, pos])
    for i in range(cfg.layers):
        _pre_ln_block(builder, f"block{i}", cfg, tokens, tokens)
    builder.add(norm("ln", tokens * d, d))
    builder.add(matmul("head", 1, d, _VIT_CLASSES, bias=True))
    return builder.build()
