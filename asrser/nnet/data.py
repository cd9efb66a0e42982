"""Frame-level training data: a data dir's features normalised by a global mean/variance, stored once as a
memory-mapped float32 matrix with per-frame targets, and spliced into (2c+1)-frame windows per mini-batch by
index arithmetic (edge frames repeat, as Kaldi's splice-feats) -- never 31 materialised copies.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import kaldiio
import numpy as np

from ..data import check_data_dir
from ..errors import AsrserError, DataError
from ..features import SpeakerCmvn, cmvn_stats
from ..fileio import Stamp, atomic_write, read_matrix, temp_name

if TYPE_CHECKING:
    import torch        # imported where a batch is made: preparing frames needs no torch

log = logging.getLogger(__name__)


NORMALISATION_STATS = "global_cmvn.stats"     # the Kaldi CMVN stats the frames are normalised with
CLASS_TABLE = "classes.txt"                   # what each target class is (asrser.hmm.targets)
# per-speaker CMVN applied before the global normalisation, in apply-cmvn's options (Kaldi's nnet dirs keep
# theirs in a file of this name); beside the global stats, absent when there is none
SPEAKER_CMVN_OPTS = "cmvn_opts"


def copy_unless_same(src: str | os.PathLike, dst: Path) -> None:
    """Copy src to dst under a temporary name, renamed when complete; nothing to do when dst is src or holds
    the same bytes already."""
    import shutil

    if dst.exists() and (Path(src).resolve() == dst.resolve() or Path(src).read_bytes() == dst.read_bytes()):
        return
    shutil.copyfile(src, temp_name(dst))
    os.replace(temp_name(dst), dst)


def speaker_cmvn_of(global_cmvn: str | os.PathLike) -> SpeakerCmvn | None:
    """The per-speaker CMVN that goes with these global stats (the cmvn_opts file beside them), or None."""
    opts = Path(global_cmvn).with_name(SPEAKER_CMVN_OPTS)
    return SpeakerCmvn.from_opts(opts.read_text(), opts) if opts.is_file() else None


def copy_or_remove(src: Path, dst: Path) -> None:
    """dst as a copy of src, or no dst when there is no src (a stale one would say what is no longer so)."""
    if src.exists():
        copy_unless_same(src, dst)
    elif dst.exists():
        dst.unlink()


def global_mean_std(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaldi CMVN stats (2, D+1) -> mean, standard deviation."""
    count = stats[0, -1]
    mean = stats[0, :-1] / count
    var = np.maximum(stats[1, :-1] / count - mean ** 2, 1e-8)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


def prepare_frames(data_dir: str | os.PathLike, targets_scp: str | os.PathLike | None,
                   global_cmvn: str | os.PathLike, out_dir: str | os.PathLike,
                   utts: list[str] | None = None) -> dict:
    """<out_dir>/{feats.npy, targets.npy, utts.json, global_cmvn.stats, cmvn_opts and classes.txt (when the stats'
    and the targets' dirs have them)}: normalised features of every utterance with features (of `utts`, when
    given; first normalised per speaker when a cmvn_opts file lies beside the global stats), concatenated, with
    per-frame targets. Decoding does not depend on alignments: an
    utterance without targets (e.g. one the aligner could not align) is kept with target -1 on every frame,
    which training and frame error rates leave out, and counted ("untargeted"). A length mismatch of one
    frame is trimmed (Kaldi's tolerance), more is an error naming the utterance."""
    data = check_data_dir(data_dir, need_text=False, need_wav=False, need_feats=True)
    out_dir = Path(out_dir)
    speaker_cmvn = speaker_cmvn_of(global_cmvn)
    inputs = [Path(data_dir) / "feats.scp", Path(global_cmvn)] + ([Path(targets_scp)] if targets_scp else [])
    if speaker_cmvn is not None:
        inputs.append(Path(data_dir) / "utt2spk")
    stamp = Stamp(out_dir / "frames.done", inputs, untargeted="kept",    # frames once skipped them
                  keeps=[NORMALISATION_STATS, CLASS_TABLE], **({"utts": sorted(utts)} if utts is not None else {}),
                  **({"speaker_cmvn": speaker_cmvn.opts()} if speaker_cmvn is not None else {}))
    if stamp.is_current():
        return json.loads((out_dir / "utts.json").read_text())["counts"]
    mean, std = global_mean_std(read_matrix(str(global_cmvn), global_cmvn))
    feats_scp = data.table("feats.scp")
    if utts is not None:
        unknown = [u for u in utts if u not in feats_scp]
        if unknown:
            raise AsrserError(f"{data_dir}/feats.scp has no features for {len(unknown)} requested utterance(s), "
                              f"e.g. {unknown[0]}")
        feats_scp = {u: feats_scp[u] for u in utts}
    if targets_scp and not Path(targets_scp).is_file():
        raise DataError(targets_scp, "file does not exist")
    targets = dict(kaldiio.load_scp(str(targets_scp))) if targets_scp else None
    lengths, names, untargeted = [], [], []
    utterance_stats = {}        # for per-speaker CMVN: each utterance's stats, from the read that counts its frames
    for utt in feats_scp:
        x = read_matrix(feats_scp[utt], Path(data_dir) / "feats.scp", utt)
        n = int(x.shape[0])
        if speaker_cmvn is not None:
            utterance_stats[utt] = cmvn_stats(x)
        if targets is not None and utt not in targets:
            untargeted.append(utt)
        elif targets is not None:
            t = len(targets[utt])
            if abs(t - n) > 1:
                raise AsrserError(f"{targets_scp}: utterance {utt} has {t} targets but {n} feature frames "
                                  f"({feats_scp[utt]})")
            n = min(n, t)
        names.append(utt)
        lengths.append(n)
    if untargeted:
        log.warning("%s: %d of %d utterance(s) have no targets (no alignment): kept for decoding, left out of "
                    "training and frame error rates, e.g. %s", data_dir, len(untargeted), len(names),
                    ", ".join(untargeted[:3]))
    if speaker_cmvn is not None:
        speaker_stats = speaker_cmvn.speaker_stats(utterance_stats, data.utt2spk, Path(data_dir) / "feats.scp")
    total = int(sum(lengths))
    dim = int(mean.shape[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    feats_tmp, targets_tmp = temp_name(out_dir / "feats.npy"), temp_name(out_dir / "targets.npy")
    feats_out = np.lib.format.open_memmap(feats_tmp, mode="w+", dtype=np.float32, shape=(total, dim))
    targets_out = np.full(total, -1, dtype=np.int64)
    start = 0
    for utt, n in zip(names, lengths):
        x = read_matrix(feats_scp[utt], Path(data_dir) / "feats.scp", utt)[:n]
        if x.shape[1] != dim:
            raise AsrserError(f"{data_dir}/feats.scp: {utt} has dimension {x.shape[1]}, the statistics {dim}")
        if speaker_cmvn is not None:
            x = speaker_cmvn.apply(x, speaker_stats[data.utt2spk[utt]])
        feats_out[start:start + n] = (x - mean) / std
        if targets is not None and utt in targets:
            targets_out[start:start + n] = np.asarray(targets[utt])[:n]
        start += n
    feats_out.flush()
    del feats_out
    with open(targets_tmp, "wb") as f:
        np.save(f, targets_out)
    os.replace(feats_tmp, out_dir / "feats.npy")
    os.replace(targets_tmp, out_dir / "targets.npy")
    counts = {"utterances": len(names), "untargeted": len(untargeted), "frames": total}
    with atomic_write(out_dir / "utts.json") as f:
        json.dump({"utts": names, "lengths": lengths, "counts": counts}, f)
    # what a net trained on these frames keeps to decode new audio: the normalisation and the class table
    copy_unless_same(global_cmvn, out_dir / NORMALISATION_STATS)
    copy_or_remove(Path(global_cmvn).with_name(SPEAKER_CMVN_OPTS), out_dir / SPEAKER_CMVN_OPTS)
    if targets_scp and (Path(targets_scp).parent / CLASS_TABLE).exists():
        copy_unless_same(Path(targets_scp).parent / CLASS_TABLE, out_dir / CLASS_TABLE)
    stamp.write()
    log.info("%s: %d frames of %d utterances (%d without targets) in %s", data_dir, total, len(names),
             len(untargeted), out_dir)
    return counts


def frame_files(frames_dir: str | os.PathLike) -> list[Path]:
    """The files of prepared frames, for the stamps of the stages that read them."""
    return [Path(frames_dir) / name for name in ("feats.npy", "targets.npy", "utts.json")]


class FrameData:
    """Memory-mapped frames of prepare_frames(), spliced on demand."""

    def __init__(self, frames_dir: str | os.PathLike, context: int):
        frames_dir = Path(frames_dir)
        if not (frames_dir / "frames.done").exists():
            raise AsrserError(f"{frames_dir}: no prepared frames (run prepare_frames first)")
        self.feats = np.load(frames_dir / "feats.npy", mmap_mode="r")
        self.targets = np.load(frames_dir / "targets.npy")
        meta = json.loads((frames_dir / "utts.json").read_text())
        self.utts, self.lengths = meta["utts"], np.asarray(meta["lengths"], dtype=np.int64)
        self.starts = np.r_[0, np.cumsum(self.lengths)[:-1]].astype(np.int64)
        ends = self.starts + self.lengths
        owner = np.repeat(np.arange(len(self.lengths)), self.lengths)
        self._first, self._last = self.starts[owner], ends[owner] - 1       # per frame: its utterance's span
        self.offsets = np.arange(-context, context + 1, dtype=np.int64)
        self.context = context

    def __len__(self) -> int:
        return len(self.targets)

    def windows(self, frames: np.ndarray) -> np.ndarray:
        """(B, 2c+1, D) windows centred on the given global frame indices, edges repeated."""
        rows = np.clip(frames[:, None] + self.offsets[None], self._first[frames, None], self._last[frames, None])
        return np.asarray(self.feats[rows.ravel()]).reshape(len(frames), len(self.offsets), -1)

    def input_batch(self, frames: np.ndarray, device: torch.device) -> torch.Tensor:
        """The nets' input for the given global frame indices: a (B, 1, 2c+1, D) tensor of windows on
        `device`, channels_last (the layout the trained and decoded nets run in)."""
        import torch

        x = torch.from_numpy(self.windows(frames)).unsqueeze(1)
        return x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)

    def utterance(self, i: int) -> tuple[str, np.ndarray]:
        return self.utts[i], np.arange(self.starts[i], self.starts[i] + self.lengths[i])


def class_counts(targets: np.ndarray, num_classes: int) -> np.ndarray:
    """Frames per class of training targets (Kaldi's analyze-counts of the alignments' pdfs)."""
    return np.bincount(targets[targets >= 0], minlength=num_classes).astype(np.float64)


# The log prior of a class seen less often than the floor: log-likelihood = log posterior - log prior is then
# about -1e10, so the decoder never uses that class (Kaldi's nnet1 PdfPrior sets such pseudo-likelihoods to
# -sqrt(FLT_MAX)). A floored prior would do the opposite: a class without training frames (e.g. the spoken-noise
# phone of <UNK> in a corpus with no unknown words) gets a tiny prior, so dividing by it makes it the most
# likely class on every frame.
UNSEEN_CLASS_LOG_PRIOR = 1e10


def log_priors_from_counts(counts: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    """log p(class) from frames per class (Kaldi's priors from alignment counts); classes below the floor
    (unseen) get UNSEEN_CLASS_LOG_PRIOR, which rules them out of decoding."""
    counts = np.asarray(counts, dtype=np.float64)
    relative = counts / max(counts.sum(), 1.0)
    prior = np.maximum(relative, floor)
    log_prior = np.log(prior / prior.sum())
    log_prior[relative < floor] = UNSEEN_CLASS_LOG_PRIOR
    return log_prior.astype(np.float32)


def class_log_priors(targets: np.ndarray, num_classes: int, floor: float = 1e-8) -> np.ndarray:
    """log p(class) from training targets; unseen classes floored."""
    return log_priors_from_counts(class_counts(targets, num_classes), floor)
