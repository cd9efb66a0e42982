"""The feature pipeline a GMM system was trained on (Kaldi's `$feats` string in steps/train_*.sh), named by
its transform:

`delta`: per-speaker CMVN (means) + deltas and delta-deltas (mono, tri1).
`lda`:   per-speaker CMVN + splicing +-context + a linear transform (LDA, then LDA+MLLT; tri2), Kaldi's
         final.mat (a float matrix, as Kaldi writes it). Stored in the experiment dir so alignment and
         decoding apply exactly what training did.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..data import check_data_dir
from ..errors import AsrserError
from ..features import add_deltas, apply_cmvn, splice
from ..fileio import atomic_write, read_matrix


# The transform's name in feature_pipeline.json since the first release: exp dirs keep reading as they were.
STORED_TRANSFORM_KEY = "kind"


@dataclass
class FeaturePipeline:
    transform: str = "delta"            # delta | lda | splice (spliced, before an LDA exists)
    delta_order: int = 2
    splice_context: int = 3
    norm_vars: bool = False

    def __post_init__(self):
        if self.transform not in ("delta", "lda", "splice"):
            raise AsrserError(f"unknown feature transform {self.transform!r}")
        self.matrix: np.ndarray | None = None       # lda: final.mat

    def apply(self, feats: np.ndarray, cmvn: np.ndarray | None) -> np.ndarray:
        x = apply_cmvn(feats, cmvn, self.norm_vars) if cmvn is not None else np.asarray(feats, np.float32)
        if self.transform == "delta":
            return add_deltas(x, self.delta_order) if self.delta_order else x
        x = splice(x, self.splice_context, self.splice_context)
        if self.transform == "lda":
            if self.matrix is None:
                raise AsrserError("lda feature pipeline without its matrix (final.mat)")
            t = self.matrix
            x = x @ t[:, :x.shape[1]].T + (t[:, x.shape[1]] if t.shape[1] > x.shape[1] else 0.0)
        return x.astype(np.float32)

    def save(self, exp_dir: str | os.PathLike) -> None:
        from ..kaldi_format import write_kaldi_matrix

        exp_dir = Path(exp_dir)
        if self.matrix is not None:
            write_kaldi_matrix(exp_dir / "final.mat", np.asarray(self.matrix, dtype=np.float32))
        fields = asdict(self)
        with atomic_write(exp_dir / "feature_pipeline.json") as f:
            json.dump({STORED_TRANSFORM_KEY: fields.pop("transform"), **fields}, f, indent=1)

    @classmethod
    def load(cls, exp_dir: str | os.PathLike) -> "FeaturePipeline":
        exp_dir = Path(exp_dir)
        path = exp_dir / "feature_pipeline.json"
        if not path.exists():
            raise AsrserError(f"{exp_dir}: no feature_pipeline.json (is this a trained GMM system?)")
        fields = json.loads(path.read_text())
        pipe = cls(transform=fields.pop(STORED_TRANSFORM_KEY, "delta"), **fields)
        if pipe.transform == "lda":
            from ..kaldi_format import read_kaldi_matrix
            pipe.matrix = read_kaldi_matrix(exp_dir / "final.mat")
        return pipe


def feature_inputs(data_dir: str | os.PathLike) -> list[Path]:
    """What iter_features reads of a data dir (feats.scp and cmvn.scp, with the arks they point to), for the
    completion records of the stages that read features."""
    return [Path(data_dir) / "feats.scp", Path(data_dir) / "cmvn.scp"]


def iter_features(data_dir: str | os.PathLike, pipeline: FeaturePipeline) -> Iterator[tuple[str, np.ndarray]]:
    """(utt, transformed features) over a data dir with feats.scp (and cmvn.scp when present)."""
    data = check_data_dir(data_dir, need_text=False, need_wav=False, need_feats=True)
    feats = data.table("feats.scp")
    cmvn = data.table("cmvn.scp") if (Path(data_dir) / "cmvn.scp").exists() else None
    cmvn_cache: dict[str, np.ndarray] = {}
    for utt, spk in data.utt2spk.items():
        stats = None
        if cmvn is not None:
            if spk not in cmvn_cache:
                cmvn_cache.clear()
                cmvn_cache[spk] = read_matrix(cmvn[spk], Path(data_dir) / "cmvn.scp", spk, "speaker")
            stats = cmvn_cache[spk]
        yield utt, pipeline.apply(read_matrix(feats[utt], Path(data_dir) / "feats.scp", utt), stats)
