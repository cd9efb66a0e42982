"""The shared transfer stage (Fayek et al. 2016): a net trained on one task gives its first l layers, kept
constant, to a net for the other task, whose remaining layers train with that task's own protocol.

SER -> ASR: per l, the TIMIT recipe's ConvNet training (train, early stopping on dev) and hybrid decoding of
dev and test (FER, PER). ASR -> SER: per l, the IEMOCAP recipe's leave-one-speaker-out folds and scoring
(E, UE). Jobs run through the job runner; every step is resumable. l = 0 copies nothing, so with the same
seed it is the recipe's baseline net (tested); its row is the baseline's, and it is not trained again.
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
class AsrRecipe:
    """Where the TIMIT recipe keeps what the ASR side needs (paths relative to its directory)."""

    root: Path

    @property
    def net(self) -> Path:
        return self.root / "exp/convnet/final.pt"

    def frames(self, name: str) -> Path:
        return self.root / f"exp/convnet/frames_{name}"

    @property
    def num_classes(self) -> Path:
        return self.root / "exp/tri2_ali_train/targets/num_classes"

    @property
    def graph(self) -> Path:
        return self.root / "exp/mono/graph"

    @property
    def hmm(self) -> Path:
        return self.root / "exp/mono/final.mdl"

    def text(self, name: str) -> Path:
        return self.root / f"data/{name}/text"


@dataclass
class SerRecipe:
    """Where the IEMOCAP recipe keeps what the SER side needs."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data/iemocap"

    @property
    def folds(self) -> Path:
        return self.root / "exp/ser_folds"

    @property
    def system(self) -> Path:
        return self.root / "exp/convnet"

    @property
    def num_folds(self) -> int:
        try:
            return int((self.folds / "num_folds").read_text())
        except FileNotFoundError:
            raise AsrserError(f"{self.folds}: no prepared folds (run the IEMOCAP recipe first)") from None

    @property
    def source_net(self) -> Path:
        """The SER net whose layers go to ASR: the first fold's (trained on its 7 training speakers)."""
        return self.system / "fold1/final.pt"


def _check_layers(first: int, last: int) -> tuple[int, int]:
    if not (0 <= first <= last <= 5):
        raise AsrserError(f"the numbers of constant layers must be a range within 0..5, got {first}..{last}")
    return max(first, 1), last


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise AsrserError(f"{path} is missing: {what}")
    return path


def transfer_ser_to_asr(asr: AsrRecipe, ser: SerRecipe, first: int, last: int, config: str | os.PathLike,
                        out_dir: str | os.PathLike, cmd: str, device: str = "auto") -> None:
    """<out_dir>/ser2asr/l<l>/{final.pt, decode_dev, decode_test} for l = first..last, one runner job per l."""
    out_dir = Path(out_dir) / "ser2asr"
    first, last = _check_layers(first, last)
    source = _need(ser.source_net, "the SER nets are trained by the IEMOCAP recipe")
    _need(asr.frames("train") / "frames.done", "the ASR frames are prepared by the TIMIT recipe")
    if first > last:
        return
    jobs = f"JOB={first}:{last}"
    run_jobs(cmd, out_dir / "log/train.lJOB.log",
             ["nnet_train.py", "--config", config, "--device", device, "--transfer-from", source,
              "--frozen-layers", "JOB", asr.frames("train"), asr.frames("dev"), asr.num_classes,
              out_dir / "lJOB"], jobs)
    for name in ("dev", "test"):
        run_jobs(cmd, out_dir / f"log/decode_{name}.lJOB.log",
                 ["nnet_decode.py", "--phone-map", "timit39", "--device", device, asr.graph, asr.hmm,
                  out_dir / "lJOB/final.pt", asr.frames(name), asr.text(name),
                  out_dir / f"lJOB/decode_{name}"], jobs)


def transfer_asr_to_ser(asr: AsrRecipe, ser: SerRecipe, first: int, last: int, config: str | os.PathLike,
                        out_dir: str | os.PathLike, cmd: str, device: str = "auto") -> None:
    """<out_dir>/asr2ser/l<l>/fold<k> for l = first..last and every fold (one runner job per fold), scored into
    l<l>/results.json."""
    from ..ser.convnet import score_folds

    out_dir = Path(out_dir) / "asr2ser"
    first, last = _check_layers(first, last)
    source = _need(asr.net, "the ASR net is trained by the TIMIT recipe")
    for l in range(first, last + 1):
        run_jobs(cmd, out_dir / f"log/l{l}.fold.JOB.log",
                 ["ser_train_fold.py", "--config", config, "--device", device, "--transfer-from", source,
                  "--frozen-layers", l, ser.data, ser.folds / "foldJOB", out_dir / f"l{l}/foldJOB"],
                 f"JOB=1:{ser.num_folds}")
        score_folds(out_dir / f"l{l}", {"system": f"ConvNet, layers 1-{l} from the ASR net, constant"})


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


def collect_transfer_results(asr: AsrRecipe, ser: SerRecipe, out_dir: str | os.PathLike) -> dict:
    """Both directions' rows (percent) in the report's form; rows not run yet are left out. SER's "dev" is
    the validation speakers, its "test" the held-out speakers, pooled over the folds."""
    out_dir = Path(out_dir)
    results: dict = {"ser_to_asr": {}, "asr_to_ser": {}}
    for direction, baseline, row in (("ser_to_asr", asr.net.parent, asr_row), ("asr_to_ser", ser.system, ser_row)):
        base = row(baseline)
        if base is not None:
            results[direction]["baseline"] = base
            results[direction]["0"] = dict(base)         # l = 0 copies nothing: the baseline net itself
        for l in range(1, 6):
            found = row(out_dir / SUBDIRS[direction] / f"l{l}")
            if found is not None:
                results[direction][str(l)] = found
    with atomic_write(out_dir / "results.json") as f:
        json.dump(results, f, indent=1)
    return results


def layer_analysis(asr: AsrRecipe, ser: SerRecipe, out_dir: str | os.PathLike, frames: int = 4000,
                   seed: int = 0) -> dict:
    """Linear CKA between every layer of the ASR net and of the SER net (the transfer source nets) on the same
    held-out windows (half TIMIT core test, half the first fold's test speaker), and both nets' first-layer
    filters: <out_dir>/{cka.json, cka.png, filters.png}."""
    import numpy as np

    from ..nnet.data import FrameData
    from ..nnet.train import load_model
    from .analysis import cka_matrix, plot_cka, plot_first_layer_filters

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    asr_net = load_model(_need(asr.net, "the ASR net is trained by the TIMIT recipe"))
    ser_net = load_model(_need(ser.source_net, "the SER nets are trained by the IEMOCAP recipe"))
    rng = np.random.default_rng(seed)
    windows = []
    for frames_dir in (asr.frames("test"), ser.folds / "fold1/frames_test"):
        data = FrameData(frames_dir, asr_net.config.context)
        chosen = np.sort(rng.choice(len(data), size=min(frames // 2, len(data)), replace=False))
        windows.append(data.windows(chosen))
    windows = np.concatenate(windows).astype(np.float32)
    matrix = cka_matrix(asr_net, ser_net, windows)
    plot_cka(matrix, out_dir / "cka.png", "ASR net", "SER net",
             f"Linear CKA between the nets' layers, {len(windows)} held-out frames")
    plot_first_layer_filters(asr_net, ser_net, out_dir / "filters.png")
    result = {"frames": int(len(windows)), "seed": seed, "asr_net": str(asr.net), "ser_net": str(ser.source_net),
              "cka": np.asarray(matrix).tolist()}
    with atomic_write(out_dir / "cka.json") as f:
        json.dump(result, f, indent=1)
    log.info("layer similarity (diagonal CKA): %s", " ".join(f"{v:.2f}" for v in np.diag(matrix)))
    return result
