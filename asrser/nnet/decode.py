"""Hybrid decoding: network log posteriors minus log priors are the HMM-state log-likelihoods (scaled
likelihoods), mapped onto the graph's transition-ids and decoded with the same HCLG and lattice decoder as
the GMMs, into the decode dir's lat.1.gz and num_jobs; frame error rates against forced alignments."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import AsrserError, DataError
from ..fileio import Stamp, atomic_write
from ..hmm.decode import (DecodeOptions, Decoder, clear_decode_outputs, decode_counts, decode_utterances,
                          finish_decode, log_decode_counts, write_job_counts)
from ..hmm.model import HmmModel
from ..hmm.targets import target_table
from ..kaldi_format import ArchiveWriter, loglikelihood_matrix
from .data import CLASS_TABLE, NORMALISATION_STATS, SPEAKER_CMVN_OPTS, FrameData, log_priors_from_counts
from .model import LayeredNet
from .train import CLASS_COUNTS, autocast_dtype, load_model, select_device

log = logging.getLogger(__name__)


def utterance_log_posteriors(model, data: FrameData, device: torch.device, precision: str = "auto",
                             batch_size: int = 4096):
    """(utt, (T, classes) log posteriors) for every utterance, in corpus order."""
    dtype = autocast_dtype(device, precision)
    model = model.to(device).to(memory_format=torch.channels_last).eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        for i in range(len(data.utts)):
            utt, frames = data.utterance(i)
            out = [torch.log_softmax(model(data.input_batch(frames[j:j + batch_size], device)).float(), dim=1)
                   for j in range(0, len(frames), batch_size)]
            yield utt, torch.cat(out).cpu().numpy()


def utterance_log_likelihoods(model, data: FrameData, log_priors: np.ndarray, device: torch.device,
                              precision: str = "auto"):
    """(utt, (T, classes) log p(x|s) up to a constant) for every utterance, in corpus order."""
    for utt, log_post in utterance_log_posteriors(model, data, device, precision):
        yield utt, log_post - log_priors


@dataclass
class Hybrid:
    """A trained net with what decoding or aligning with it needs: the HMM whose states it predicts, the
    transition-id -> net class table, the class log priors of its training targets (the net dir's
    class_counts), and the frames."""

    net: LayeredNet
    hmm: HmmModel
    tid2class: np.ndarray
    log_priors: np.ndarray
    data: FrameData

    @classmethod
    def load(cls, net_path: str | os.PathLike, hmm_model: str | os.PathLike, frames_dir: str | os.PathLike,
             targets: str = "mono-state") -> "Hybrid":
        """The net of final.pt with the priors and class table kept beside it (its training's
        write_decoding_files); a class table that names other HMM states than hmm_model's is an error."""
        net = load_model(net_path)
        hmm = HmmModel.load(hmm_model)
        tid2class, num_classes = target_table(hmm, targets)
        if num_classes != net.num_classes:
            raise AsrserError(f"{net_path} predicts {net.num_classes} classes, the HMM has {num_classes} states")
        check_class_table(Path(net_path).parent / CLASS_TABLE, hmm, targets)
        check_same_normalisation(Path(net_path).parent, frames_dir)
        log_priors = log_priors_from_counts(read_class_counts(Path(net_path).parent / CLASS_COUNTS, num_classes))
        return cls(net, hmm, tid2class, log_priors, FrameData(frames_dir, net.config.context))

    def log_likelihoods(self, device: str = "auto"):
        """(utt, (T, classes) log p(x|s) up to a constant) for every utterance, in corpus order."""
        return utterance_log_likelihoods(self.net, self.data, self.log_priors, select_device(device))


def net_dir_files(net_path: str | os.PathLike) -> list[Path]:
    """What a decoder reads of a net's dir beside final.pt, for the stamps of the stages that use the net."""
    return [Path(net_path).parent / name for name in (CLASS_COUNTS, CLASS_TABLE)
            if name == CLASS_COUNTS or (Path(net_path).parent / name).exists()]


def read_class_counts(path: Path, num_classes: int) -> np.ndarray:
    """A net dir's class_counts: frames per class, one per class the net predicts."""
    from ..kaldi_format import read_kaldi_vector

    if not path.exists():
        raise DataError(path, "file does not exist: the net's training writes it (a net trained before nets kept "
                              "their priors: run its training stage again, which only adds the file)")
    counts = read_kaldi_vector(path)
    if len(counts) != num_classes or (counts < 0).any():
        raise DataError(path, f"expected {num_classes} non-negative frame counts, found {len(counts)} values")
    return counts


def check_class_table(path: Path, hmm: HmmModel, targets: str) -> None:
    """The class table a net was trained with (when it has one) names the classes of `targets` on `hmm`."""
    from ..hmm.targets import class_names, read_class_table
    from ..lang import read_symbol_table

    if not path.exists():
        return
    phones_txt = hmm.path.parent / "phones.txt" if hmm.path is not None else None
    phones = ({i: p for p, i in read_symbol_table(phones_txt).items()}
              if phones_txt is not None and phones_txt.exists() else None)
    trained, here = read_class_table(path), class_names(hmm, targets, phones)
    if trained != here:
        first = next((i for i, (a, b) in enumerate(zip(trained, here)) if a != b), min(len(trained), len(here)))
        raise DataError(path, f"the net was trained on other classes than the {targets} classes of {hmm.path} "
                              f"(class {first}: {trained[first] if first < len(trained) else 'none'} here, "
                              f"{here[first] if first < len(here) else 'none'} in the model)")


def check_same_normalisation(net_dir: Path, frames_dir: str | os.PathLike) -> None:
    """Frames normalised as the net's training frames were: the same global stats and per-speaker CMVN (when
    the net's dir records its normalisation; nets of older releases kept none)."""
    if not (net_dir / NORMALISATION_STATS).exists():
        return

    def content(path: Path) -> bytes | None:
        return path.read_bytes() if path.exists() else None

    for name in (NORMALISATION_STATS, SPEAKER_CMVN_OPTS):
        trained, here = net_dir / name, Path(frames_dir) / name
        if content(trained) != content(here):
            raise DataError(here, f"these frames were normalised otherwise than the net's training frames "
                                  f"({trained}{'' if trained.exists() else ': none'}); prepare them with "
                                  f"nnet_prepare_frames.py <data> {net_dir / NORMALISATION_STATS} <frames>")


def class_to_pdf_columns(hmm: HmmModel, tid2class: np.ndarray) -> np.ndarray:
    """Per pdf of the HMM the net class whose log-likelihood is that pdf's (latgen-faster-mapped reads one column
    per pdf): defined when every transition-id of a pdf maps to one class, as for pdf targets and for
    monophone-state targets on a monophone model."""
    tid2pdf = np.asarray(hmm.tid2pdf)
    column = np.full(hmm.trans_model.num_pdfs, -1, dtype=np.int64)
    for tid in range(1, len(tid2class)):
        pdf, cls = int(tid2pdf[tid]), int(tid2class[tid])
        if column[pdf] not in (-1, cls):
            raise AsrserError(f"{hmm.path}: pdf {pdf} is shared by net classes {column[pdf]} and {cls}: the net's "
                              "outputs have no per-pdf log-likelihood to write for Kaldi (use the monophone model "
                              "for monophone-state targets)")
        column[pdf] = cls
    return column


def decode_hybrid(graph_dir: str | os.PathLike, hmm_model: str | os.PathLike, net_path: str | os.PathLike,
                  frames_dir: str | os.PathLike, decode_dir: str | os.PathLike, opts: DecodeOptions,
                  device: str = "auto", targets: str = "mono-state", write_loglikes: bool = False) -> dict:
    """Decode prepared frames with a trained net and the graph of the HMM model whose states it predicts:
    targets mono-state (monophone HMM states: e.g. the monophone graph) or pdf (the tree leaves of
    hmm_model, decoded with that model's graph). Every utterance of the frames is decoded, with targets or
    without. Also writes <decode_dir>/fer, the frame error rate of the net's posteriors against the frames'
    targets (as the training's validation FER), over the frames that have one; without any, no fer file."""
    decode_dir = Path(decode_dir)
    stamp = Stamp(decode_dir / "decode.done", [Path(graph_dir) / "HCLG.fst", Path(hmm_model), Path(net_path),
                                               Path(frames_dir) / "feats.npy", Path(frames_dir) / "targets.npy",
                                               *net_dir_files(net_path)],
                  options=asdict(opts), targets=targets, write_loglikes=write_loglikes)
    if stamp.is_current():
        counts = decode_counts(decode_dir)
        log_decode_counts(decode_dir, counts, opts)
        return counts
    hybrid = Hybrid.load(net_path, hmm_model, frames_dir, targets)
    data, log_priors = hybrid.data, hybrid.log_priors
    decoder = Decoder(Path(graph_dir) / "HCLG.fst", hybrid.tid2class, opts, hmm_model)
    start = time.perf_counter()
    wrong = total = untargeted = 0

    pdf_columns = class_to_pdf_columns(hybrid.hmm, hybrid.tid2class) if write_loglikes else None

    def scored(loglikes: ArchiveWriter | None):
        nonlocal wrong, total, untargeted
        for i, (utt, loglik) in enumerate(hybrid.log_likelihoods(device)):
            if loglikes is not None:        # written as decoded: a large pdf set need not fit in memory
                loglikes.write_matrix(utt, loglikelihood_matrix(utt, loglik[:, pdf_columns], len(pdf_columns)))
            _, frames = data.utterance(i)
            ref = data.targets[frames]
            ok = ref >= 0
            posterior_best = (loglik + log_priors).argmax(1)
            wrong += int((posterior_best[ok] != ref[ok]).sum())
            total += int(ok.sum())
            untargeted += not ok.any()
            yield utt, loglik

    decode_dir.mkdir(parents=True, exist_ok=True)
    clear_decode_outputs(decode_dir)
    with contextlib.ExitStack() as stack:
        loglikes = stack.enter_context(ArchiveWriter(decode_dir / "loglikes.1.ark")) if write_loglikes else None
        counts = decode_utterances(decoder, scored(loglikes), decode_dir, 1)
    counts["seconds"] = time.perf_counter() - start
    counts.update(fer_frames=total, fer_errors=wrong, fer_untargeted_utterances=untargeted)
    write_job_counts(decode_dir, 1, counts)
    finish_decode(decode_dir, 1)
    fer = decode_dir / "fer"
    if total:
        with atomic_write(fer) as f:
            f.write(f"%FER {100.0 * wrong / total:.2f} [ {wrong} / {total} frames ] "
                    f"{counts['utterances'] - untargeted} utterances with targets, {untargeted} without\n")
    else:
        fer.unlink(missing_ok=True)
        log.warning("%s: %s has no frame targets: no frame error rate", decode_dir, frames_dir)
    if untargeted and total:
        log.warning("%s: %d of %d utterances have no frame targets (no alignment): decoded and scored, left out "
                    "of the frame error rate", decode_dir, untargeted, counts["utterances"])
    stamp.write()
    counts = decode_counts(decode_dir)
    log_decode_counts(decode_dir, counts, opts)
    if total:
        log.info("%s: FER %.2f%% over %d frames", decode_dir, counts["fer"], total)
    return counts
