"""The feature pipeline a GMM system was trained on (Kaldi's `$feats` string in steps/train_*.sh), named by
its transform:

`delta`: per-speaker CMVN (means) + deltas and delta-deltas (mono, tri1).
`lda`:   per-speaker CMVN + splicing +-context + a linear transform (LDA, then LDA+MLLT; tri2), Kaldi's
         final.mat (a float matrix, as Kaldi writes it). Stored in the experiment dir so alignment and
         decoding apply exactly what training did.

With `fmllr` (tri3, SAT) each speaker's fMLLR transform (trans.JOB, asrser.gmm.fmllr) follows as a last,
per-speaker stage, as Kaldi's `$feats` adds `transform-feats --utt2spk ... ark:trans.JOB`. The transforms are
read from a directory given when the pipeline is loaded (the exp dir in training, the decode or alignment
dir otherwise); loaded speaker-independent, the same pipeline stops before them (Kaldi's `$sifeats`).
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
    fmllr: bool = False                 # per-speaker fMLLR transforms after the rest (SAT)

    def __post_init__(self):
        if self.transform not in ("delta", "lda", "splice"):
            raise AsrserError(f"unknown feature transform {self.transform!r}")
        self.matrix: np.ndarray | None = None       # lda: final.mat
        self.transforms: dict[str, np.ndarray] | None = None    # fmllr: speaker -> d x (d+1)
        self.transform_dir: Path | None = None

    def apply(self, feats: np.ndarray, cmvn: np.ndarray | None, speaker: str | None = None) -> np.ndarray:
        x = apply_cmvn(feats, cmvn, self.norm_vars) if cmvn is not None else np.asarray(feats, np.float32)
        if self.transform == "delta":
            x = add_deltas(x, self.delta_order) if self.delta_order else x
        else:
            x = splice(x, self.splice_context, self.splice_context)
            if self.transform == "lda":
                if self.matrix is None:
                    raise AsrserError("lda feature pipeline without its matrix (final.mat)")
                t = self.matrix
                x = x @ t[:, :x.shape[1]].T + (t[:, x.shape[1]] if t.shape[1] > x.shape[1] else 0.0)
        if self.fmllr:
            from .fmllr import apply_transform

            if self.transforms is None:
                raise AsrserError("fMLLR feature pipeline loaded without its transforms")
            if speaker not in self.transforms:
                raise AsrserError(f"{self.transform_dir}: no fMLLR transform for speaker {speaker} (trans.JOB)")
            x = apply_transform(x, self.transforms[speaker])
        return x.astype(np.float32)

    def speaker_independent(self) -> "FeaturePipeline":
        """The same features without the fMLLR stage (Kaldi's $sifeats)."""
        pipe = FeaturePipeline(self.transform, self.delta_order, self.splice_context, self.norm_vars)
        pipe.matrix = self.matrix
        return pipe

    def with_transforms(self, transform_dir: str | os.PathLike) -> "FeaturePipeline":
        """The same features followed by the speakers' fMLLR transforms in transform_dir/trans.JOB."""
        from .fmllr import read_speaker_transforms

        pipe = self.speaker_independent()
        pipe.fmllr = True
        pipe.transform_dir = Path(transform_dir)
        pipe.transforms = read_speaker_transforms(transform_dir)
        return pipe

    def save(self, exp_dir: str | os.PathLike) -> None:
        from ..kaldi_format import write_kaldi_matrix

        exp_dir = Path(exp_dir)
        if self.matrix is not None:
            write_kaldi_matrix(exp_dir / "final.mat", np.asarray(self.matrix, dtype=np.float32))
        fields = asdict(self)
        if not fields["fmllr"]:         # speaker-independent systems' files stay as they always were
            del fields["fmllr"]
        with atomic_write(exp_dir / "feature_pipeline.json") as f:
            json.dump({STORED_TRANSFORM_KEY: fields.pop("transform"), **fields}, f, indent=1)

    @classmethod
    def load(cls, exp_dir: str | os.PathLike, transform_dir: str | os.PathLike | None = None,
             speaker_independent: bool = False) -> "FeaturePipeline":
        """The pipeline of a system; an fMLLR system's transforms are read from transform_dir (default: the
        exp dir), unless speaker_independent asks for the features before them."""
        exp_dir = Path(exp_dir)
        path = exp_dir / "feature_pipeline.json"
        if not path.exists():
            raise AsrserError(f"{exp_dir}: no feature_pipeline.json (is this a trained GMM system?)")
        fields = json.loads(path.read_text())
        pipe = cls(transform=fields.pop(STORED_TRANSFORM_KEY, "delta"), **fields)
        if pipe.transform == "lda":
            from ..kaldi_format import read_kaldi_matrix
            pipe.matrix = read_kaldi_matrix(exp_dir / "final.mat")
        if pipe.fmllr:
            pipe = pipe.speaker_independent()
            if not speaker_independent:
                pipe = pipe.with_transforms(transform_dir if transform_dir is not None else exp_dir)
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
        yield utt, pipeline.apply(read_matrix(feats[utt], Path(data_dir) / "feats.scp", utt), stats, spk)
