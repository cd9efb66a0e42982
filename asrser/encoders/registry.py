"""Encoders by name: `hf:DIR` (a local Hugging Face wav2vec2 / HuBERT / WavLM directory) or `ctc:PATH` (the
toolkit's CTC phone recogniser, e.g. ctc:exp/ctc/final.pt)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import AsrserError
from .base import LayerEncoder

KINDS = ("hf", "ctc")


def parse_spec(spec: str) -> tuple[str, str]:
    """'hf:/models/wavlm' -> ('hf', '/models/wavlm'); an unknown kind or an empty path is an error."""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS or not path:
        raise AsrserError(f"encoder {spec!r}: expected hf:DIR (a local wav2vec2 / HuBERT / WavLM directory) or "
                          f"ctc:PATH (a CTC model trained by the toolkit, e.g. ctc:exp/ctc/final.pt)")
    return kind, path


def check_spec(spec: str) -> tuple[str, str]:
    """parse_spec, and the encoder's files are there (cheap: nothing is loaded), else one error naming them."""
    kind, path = parse_spec(spec)
    if kind == "hf":
        from .hf import check_encoder_dir

        check_encoder_dir(path)
    elif not Path(path).is_file():
        raise AsrserError(f"{path}: no such CTC model (train it first: the TIMIT recipe's CTC stage writes "
                          f"exp/ctc/final.pt)")
    return kind, path


def load_encoder(spec: str, device: str = "auto") -> LayerEncoder:
    kind, path = check_spec(spec)
    if kind == "hf":
        from .hf import load_hf_encoder

        return load_hf_encoder(path, device, name=spec)
    from ..ctc.encoder import load_ctc_encoder      # torch and the CTC model only when asked for

    return load_ctc_encoder(path, device)


def encoder_files(spec: str) -> list[Path]:
    """The files an encoder is made of (the inputs of a stage that runs it: new weights mean new embeddings);
    checked as check_spec checks them."""
    kind, path = check_spec(spec)
    p = Path(path)
    if kind == "hf":
        return sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
    return [p]
