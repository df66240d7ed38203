"""A tiny random-weight Llama and its tokenizer, built locally with no hub.

Generation tests need a model that vLLM and HF transformers both load from
the same directory. Building it at test time keeps the payload free of
downloads and of checked-in weights.
"""

from __future__ import annotations

from pathlib import Path

# Words that a BPE tokenizer is trained on; the prompts below use them too, so
# every prompt tokenizes into known pieces.
_CORPUS = (
    "the quick brown fox jumps over the lazy dog",
    "a matrix of nightly builds tells which combination works",
    "vllm generates tokens with kernels on a graphics card",
    "pytorch nightlies break things now and then",
    "hello world this is a tiny model for tests",
)
PROMPTS = (
    "the quick brown fox",
    "a matrix of nightly builds",
    "hello world this is",
)
HIDDEN = 128
HEADS = 2  # head_dim 64: the CPU attention rejects head_dim 16
LAYERS = 2


def build_tokenizer(directory: Path) -> None:
    """Train a small byte-level BPE tokenizer and save it as a fast HF tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(_CORPUS) * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    fast.save_pretrained(str(directory))


def build_model(directory: Path, seed: int = 0) -> Path:
    """Write a random-weight Llama (float32 safetensors) and tokenizer into ``directory``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory.mkdir(parents=True, exist_ok=True)
    build_tokenizer(directory)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=HIDDEN,
        intermediate_size=256,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
        dtype="float32",
    )
    model = LlamaForCausalLM(config)  # type: ignore[no-untyped-call]
    # Larger-than-default weights give peaked logits, so greedy choices are
    # not decided by rounding noise between two near-equal tokens.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.1)
    model.save_pretrained(str(directory), safe_serialization=True)
    return directory
