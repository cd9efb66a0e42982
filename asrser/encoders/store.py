"""Layer embeddings of an encoder, stored once per data set and read by every fold of every SER system.

A store is a directory:

    feats.ark, feats.scp   one Kaldi float matrix per utterance, (frames, layers * dim): the layers' outputs
                           side by side, layer k in columns [k * dim, (k + 1) * dim)
    utt2num_frames         frames per utterance
    embeddings.json        {"encoder", "layer_names", "layers", "dim", "frame_shift" (seconds), "utterances"}

Layer 0 is what the encoder's first block receives (its front end's output, the `hidden_states[0]` of a
Hugging Face model); layer k its k-th block's output. embeddings.json is written last: a store without it is
incomplete.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import kaldiio
import numpy as np

from ..errors import AsrserError, DataError
from ..fileio import atomic_write, read_key_value, write_key_value
from ..features import write_ark_scp

META = "embeddings.json"


@dataclass(frozen=True)
class EmbeddingMeta:
    encoder: str                  # what made them, e.g. "ctc:exp/ctc/final.pt" or "hf:/models/wavlm-base-plus"
    layer_names: tuple[str, ...]  # one per stored layer, e.g. ("frontend", "block1", ...)
    dim: int
    frame_shift: float            # seconds between embedding frames
    utterances: int = 0

    @property
    def layers(self) -> int:
        return len(self.layer_names)


def write_embeddings(out_dir: str | os.PathLike, items: Iterable[tuple[str, np.ndarray]], meta: EmbeddingMeta
                     ) -> int:
    """Store (utt, array (layers, frames, dim)) pairs; returns how many. Every array must match meta's layers
    and dim. The store's embeddings.json appears last, when everything else is complete."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / META).unlink(missing_ok=True)
    frames: dict[str, int] = {}

    def stacked() -> Iterator[tuple[str, np.ndarray]]:
        for utt, layers in items:
            layers = np.asarray(layers, dtype=np.float32)
            if layers.ndim != 3 or layers.shape[0] != meta.layers or layers.shape[2] != meta.dim:
                raise AsrserError(f"{utt}: embeddings of shape {layers.shape}, expected ({meta.layers}, frames, "
                                  f"{meta.dim}) for {meta.encoder}")
            frames[utt] = layers.shape[1]
            yield utt, np.ascontiguousarray(layers.transpose(1, 0, 2).reshape(layers.shape[1], -1))

    count = write_ark_scp(out_dir / "feats", stacked())
    write_key_value(out_dir / "utt2num_frames", {u: str(n) for u, n in frames.items()})
    doc = asdict(meta)
    doc.update(layer_names=list(meta.layer_names), layers=meta.layers, utterances=count)
    with atomic_write(out_dir / META) as f:
        json.dump(doc, f, indent=1)
    return count


def read_meta(store: str | os.PathLike) -> EmbeddingMeta:
    path = Path(store) / META
    try:
        doc = json.loads(path.read_text())
        return EmbeddingMeta(doc["encoder"], tuple(doc["layer_names"]), int(doc["dim"]), float(doc["frame_shift"]),
                             int(doc.get("utterances", 0)))
    except FileNotFoundError:
        raise AsrserError(f"{path}: missing: {store} is not a complete embedding store (run the embedding "
                          f"stage)") from None
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise DataError(path, f"malformed embedding description ({e})") from None


class EmbeddingStore:
    """Random access to a store's utterances as arrays (layers, frames, dim)."""

    def __init__(self, store: str | os.PathLike):
        self.dir = Path(store)
        self.meta = read_meta(self.dir)
        self.scp = self.dir / "feats.scp"
        self._index = read_key_value(self.scp)
        self._reader = None

    @property
    def utterances(self) -> list[str]:
        return list(self._index)

    def require(self, utts: Iterable[str], what: str = "the folds") -> None:
        """Every utterance of utts is in the store, or one error naming the scp, the count and an example."""
        missing = [u for u in utts if u not in self._index]
        if missing:
            raise DataError(self.scp, f"{len(missing)} utterance(s) of {what} have no embeddings, e.g. "
                                      f"{missing[0]} (extract them again for this data dir)")

    def read(self, utt: str, layers: Iterable[int] | None = None) -> np.ndarray:
        if utt not in self._index:
            raise DataError(self.scp, f"no embeddings for utterance {utt}")
        try:
            mat = kaldiio.load_mat(self._index[utt])
        except Exception as e:  # kaldiio raises assorted errors on a cut or foreign archive
            raise DataError(self.scp, f"utterance {utt}: unreadable embeddings at {self._index[utt]} ({e})") from None
        m = self.meta
        if mat.ndim != 2 or mat.shape[1] != m.layers * m.dim:
            raise DataError(self.scp, f"utterance {utt}: matrix of shape {mat.shape}, expected (frames, "
                                      f"{m.layers} x {m.dim})")
        stacked = mat.reshape(mat.shape[0], m.layers, m.dim).transpose(1, 0, 2)
        return stacked if layers is None else stacked[list(layers)]
