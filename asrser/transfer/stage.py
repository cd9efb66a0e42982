"""The shared transfer stage (Fayek et al. 2016): a net trained on one task gives its first l layers, kept
constant, to a net for the other task, whose remaining layers train with that task's own protocol.

SER -> ASR: per l, the ASR ConvNet training (train, early stopping on dev) and hybrid decoding of dev and test
(FER, PER). ASR -> SER: per l, the SER leave-one-speaker-out folds and scoring (E, UE). Every input is passed
in by the recipe that calls the stage (where the source nets, frames, graphs and folds are is the recipes'
business); the stage writes <out_dir>/ser2asr/l<l> and <out_dir>/asr2ser/l<l>. By default l runs over every
layer of the source net but its output layer. Jobs run through the job runner; every step is resumable. l = 0
copies nothing, so with the same seed it is the recipe's baseline net (tested); its row is the baseline's,
and it is not trained again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import AsrserError
from ..fileio import atomic_write
from ..runner import run_jobs
from ..scoring import decode_error_rates

log = logging.getLogger(__name__)

SUBDIRS = {"ser_to_asr": "ser2asr", "asr_to_ser": "asr2ser"}


@dataclass
class AsrTask:
    """What ASR training and hybrid decoding of a transferred net take: the same inputs as the baseline's."""

    num_classes: Path          # the frame targets' number of classes (ali_to_targets.py)
    graph: Path                # the HCLG of the HMM whose states the net predicts
    hmm: Path                  # that HMM (final.mdl)
    frames_dir: Path           # frames_{train,dev,test} (nnet_prepare_frames.py)
    data_dir: Path             # {dev,test}/text, the references
    scoring_options: tuple[str, ...] = ()   # nnet_decode.py's --phone-map FILE --phone-map-columns FROM,TO

    def frames(self, name: str) -> Path:
        return self.frames_dir / f"frames_{name}"

    def text(self, name: str) -> Path:
        return self.data_dir / name / "text"


@dataclass
class SerTask:
    """What SER training of a transferred net on every fold takes."""

    data_dir: Path             # the SER data dir (utt2emo)
    folds_dir: Path            # num_folds and fold<k> (ser_prepare_folds.py)

    @property
    def num_folds(self) -> int:
        try:
            return int((self.folds_dir / "num_folds").read_text())
        except FileNotFoundError:
            raise AsrserError(f"{self.folds_dir}: no prepared folds (run the folds stage first)") from None


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise AsrserError(f"{path} is missing: {what}")
    return path


def transferable_layers(net: str | os.PathLike) -> int:
    """How many layers of a trained net can be given to another: all but its output layer."""
    from ..nnet.train import load_model

    return len(load_model(_need(Path(net), "the source net is trained by its task's recipe")).layers) - 1


def layer_range(source_net: str | os.PathLike, layers: tuple[int, int] | None) -> range:
    """The numbers l of constant layers to train: `layers` (first, last), by default 1..every layer of the
    source net but its output layer; l = 0 is the baseline, never trained here."""
    most = transferable_layers(source_net)
    first, last = layers if layers is not None else (1, most)
    if not (0 <= first <= last <= most):
        raise AsrserError(f"the numbers of constant layers must be a range within 0..{most} (the layers of "
                          f"{source_net} but its output layer), got {first}..{last}")
    return range(max(first, 1), last + 1)


def transfer_ser_to_asr(source_net: str | os.PathLike, asr: AsrTask, config: str | os.PathLike,
                        out_dir: str | os.PathLike, cmd: str, device: str = "auto",
                        layers: tuple[int, int] | None = None) -> None:
    """<out_dir>/ser2asr/l<l>/{final.pt, decode_dev, decode_test} for every l of `layers`, one runner job per l."""
    out_dir = Path(out_dir) / "ser2asr"
    ls = layer_range(source_net, layers)
    _need(asr.frames("train") / "frames.done", "the ASR frames are prepared by the ASR recipe")
    if not ls:
        return
    jobs = f"JOB={ls.start}:{ls.stop - 1}"
    run_jobs(cmd, out_dir / "log/train.lJOB.log",
             ["nnet_train.py", "--config", config, "--device", device, "--transfer-from", source_net,
              "--frozen-layers", "JOB", asr.frames("train"), asr.frames("dev"), asr.num_classes,
              out_dir / "lJOB"], jobs)
    for name in ("dev", "test"):
        run_jobs(cmd, out_dir / f"log/decode_{name}.lJOB.log",
                 ["nnet_decode.py", *asr.scoring_options, "--device", device, asr.graph, asr.hmm,
                  out_dir / "lJOB/final.pt", asr.frames(name), asr.text(name),
                  out_dir / f"lJOB/decode_{name}"], jobs)


def transfer_asr_to_ser(source_net: str | os.PathLike, ser: SerTask, config: str | os.PathLike,
                        out_dir: str | os.PathLike, cmd: str, device: str = "auto",
                        layers: tuple[int, int] | None = None) -> None:
    """<out_dir>/asr2ser/l<l>/fold<k> for every l of `layers` and every fold (one runner job per fold), scored
    into l<l>/results.json."""
    from ..ser.convnet import score_folds

    out_dir = Path(out_dir) / "asr2ser"
    for l in layer_range(source_net, layers):
        run_jobs(cmd, out_dir / f"log/l{l}.fold.JOB.log",
                 ["ser_train_fold.py", "--config", config, "--device", device, "--transfer-from", source_net,
                  "--frozen-layers", l, ser.data_dir, ser.folds_dir / "foldJOB", out_dir / f"l{l}/foldJOB"],
                 f"JOB=1:{ser.num_folds}")
        score_folds(ser.folds_dir, out_dir / f"l{l}", {"system": f"ConvNet, layers 1-{l} from the ASR net, constant"})


def asr_row(system: Path) -> dict | None:
    """FER and PER (percent) of a hybrid system's dev and test decodes, or None until both are scored."""
    row = {}
    for name in ("dev", "test"):
        rates = decode_error_rates(system / f"decode_{name}")
        if not {"fer", "per"} <= rates.keys():
            return None
        row[f"fer_{name}"], row[f"per_{name}"] = rates["fer"], rates["per"]
    return row


def ser_row(system: Path) -> dict | None:
    """E and UE (percent) of an SER system's validation ("dev") and test speakers, or None until scored."""
    path = system / "results.json"
    if not path.exists():
        return None
    r = json.loads(path.read_text())
    return {"e_dev": 100 * r["valid"]["e"], "e_test": 100 * r["test"]["e"],
            "ue_dev": 100 * r["valid"]["ue"], "ue_test": 100 * r["test"]["ue"]}


def _trained_layers(direction_dir: Path) -> list[int]:
    """The numbers l of the l<l> dirs of one direction, ascending."""
    return sorted(int(p.name[1:]) for p in direction_dir.glob("l*") if p.name[1:].isdigit())


def collect_transfer_results(asr_baseline: str | os.PathLike, ser_baseline: str | os.PathLike,
                             out_dir: str | os.PathLike) -> dict:
    """Both directions' rows (percent) in the report's form, beside the baselines (the ASR system dir with its
    decode_{dev,test}, the SER system dir with its results.json); rows not run yet are left out. SER's "dev"
    is the validation speakers, its "test" the held-out speakers, pooled over the folds."""
    out_dir = Path(out_dir)
    results: dict = {"ser_to_asr": {}, "asr_to_ser": {}}
    for direction, baseline, row in (("ser_to_asr", Path(asr_baseline), asr_row),
                                     ("asr_to_ser", Path(ser_baseline), ser_row)):
        base = row(baseline)
        if base is not None:
            results[direction]["baseline"] = base
            results[direction]["0"] = dict(base)         # l = 0 copies nothing: the baseline net itself
        for l in _trained_layers(out_dir / SUBDIRS[direction]):
            found = row(out_dir / SUBDIRS[direction] / f"l{l}")
            if found is not None:
                results[direction][str(l)] = found
    with atomic_write(out_dir / "results.json") as f:
        json.dump(results, f, indent=1)
    return results


def layer_analysis(asr_net: str | os.PathLike, ser_net: str | os.PathLike, asr_frames: str | os.PathLike,
                   ser_frames: str | os.PathLike, out_dir: str | os.PathLike, frames: int = 4000,
                   seed: int = 0) -> dict:
    """Linear CKA between every layer of the ASR net and of the SER net (the transfer source nets) on the same
    held-out windows (half from each task's frames dir, e.g. TIMIT core test and a fold's test speaker), and
    both nets' first-layer filters: <out_dir>/{cka.json, cka.png, filters.png}."""
    import numpy as np

    from ..nnet.data import FrameData
    from ..nnet.train import load_model
    from .analysis import cka_matrix, plot_cka, plot_first_layer_filters

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    asr_model = load_model(_need(Path(asr_net), "the ASR net is trained by the ASR recipe"))
    ser_model = load_model(_need(Path(ser_net), "the SER net is trained by the SER recipe"))
    rng = np.random.default_rng(seed)
    windows = []
    for frames_dir in (asr_frames, ser_frames):
        data = FrameData(frames_dir, asr_model.config.context)
        chosen = np.sort(rng.choice(len(data), size=min(frames // 2, len(data)), replace=False))
        windows.append(data.windows(chosen))
    windows = np.concatenate(windows).astype(np.float32)
    matrix = cka_matrix(asr_model, ser_model, windows)
    plot_cka(matrix, out_dir / "cka.png", "ASR net", "SER net",
             f"Linear CKA between the nets' layers, {len(windows)} held-out frames")
    plot_first_layer_filters(asr_model, ser_model, out_dir / "filters.png")
    result = {"frames": int(len(windows)), "seed": seed, "asr_net": str(asr_net), "ser_net": str(ser_net),
              "cka": np.asarray(matrix).tolist()}
    with atomic_write(out_dir / "cka.json") as f:
        json.dump(result, f, indent=1)
    log.info("layer similarity (diagonal CKA): %s", " ".join(f"{v:.2f}" for v in np.diag(matrix)))
    return result
