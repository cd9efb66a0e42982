"""Acoustic features with kaldi-native-fbank: log-mel fbank and MFCC from Kaldi option files, written as
Kaldi ark/scp; CMVN statistics; deltas and splicing. The kinds of feature are a registry (FEATURE_TYPES):
each names its options and its extractor, and make_feats.py --feat-type <kind> reads conf/<kind>.conf.

Audio at another sample rate than the config's --sample-frequency is an error naming the utterance and the file,
unless the config allows resampling (Kaldi's --allow-upsample / --allow-downsample). conf/{mfcc,fbank}_8k.conf
read 8 kHz audio as it is.

The worker (`python -m asrser.features`) computes one part of a split data dir; steps_py/make_feats.py fans
it out over jobs and assembles feats.scp.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kaldi_native_fbank as knf
import kaldiio
import numpy as np

from .audio import read_audio
from .errors import AsrserError, AudioError, DataError
from .fileio import Stamp, atomic_write, read_key_value, read_matrix, temp_name, write_key_value

log = logging.getLogger(__name__)

# Kaldi option name -> (knf options attribute path, type). Dither is applied here, not by knf, so that it is
# seeded per utterance and the same config always gives the same features.
_FRAME = {
    "sample-frequency": ("frame_opts.samp_freq", float), "frame-length": ("frame_opts.frame_length_ms", float),
    "frame-shift": ("frame_opts.frame_shift_ms", float), "preemphasis-coefficient": ("frame_opts.preemph_coeff", float),
    "remove-dc-offset": ("frame_opts.remove_dc_offset", bool), "window-type": ("frame_opts.window_type", str),
    "round-to-power-of-two": ("frame_opts.round_to_power_of_two", bool),
    "blackman-coeff": ("frame_opts.blackman_coeff", float), "snip-edges": ("frame_opts.snip_edges", bool),
    "num-mel-bins": ("mel_opts.num_bins", int), "low-freq": ("mel_opts.low_freq", float),
    "high-freq": ("mel_opts.high_freq", float), "vtln-low": ("mel_opts.vtln_low", float),
    "vtln-high": ("mel_opts.vtln_high", float), "use-energy": ("use_energy", bool),
    "energy-floor": ("energy_floor", float), "raw-energy": ("raw_energy", bool), "htk-compat": ("htk_compat", bool),
}
# Options of Kaldi's compute-*-feats that kaldi-native-fbank does not hold; they are applied here.
_OWN_OPTIONS = {"dither": float, "allow-downsample": bool, "allow-upsample": bool}
# Kaldi's own defaults where kaldi-native-fbank's differ.
_KALDI_DEFAULTS = {"frame_opts.dither": 0.0, "mel_opts.low_freq": 20.0, "mel_opts.high_freq": 0.0}


def _kaldi_options(options_class: Callable[[], Any]) -> Callable[[], Any]:
    """A factory of kaldi-native-fbank options with Kaldi's own defaults."""
    def new():
        opts = options_class()
        for attr, value in _KALDI_DEFAULTS.items():
            _set_attr(opts, attr, value)
        return opts
    return new


@dataclass(frozen=True)
class FeatureType:
    """A kind of feature: its Kaldi option names and its extractor. The extractor follows Kaldi's
    OnlineFeatureInterface (accept_waveform, input_finished, num_frames_ready, get_frame), as kaldi-native-fbank's
    do; a kind that knf lacks (pitch, a new filterbank) brings its own options class and extractor."""

    options: dict[str, tuple[str, type]]    # Kaldi option name -> (attribute path in the options object, type)
    new_options: Callable[[], Any]           # the extractor's options object, with Kaldi's defaults
    new_extractor: Callable[[Any], Any]      # an online extractor for those options
    dim: Callable[[Any], int]                # the feature dimension under those options


# The feature kinds: name -> type. A new kind is one entry here and its conf/<name>.conf.
FEATURE_TYPES: dict[str, FeatureType] = {
    "fbank": FeatureType({**_FRAME, "use-log-fbank": ("use_log_fbank", bool), "use-power": ("use_power", bool)},
                         _kaldi_options(knf.FbankOptions), knf.OnlineFbank,
                         lambda o: o.mel_opts.num_bins + int(o.use_energy)),
    "mfcc": FeatureType({**_FRAME, "num-ceps": ("num_ceps", int), "cepstral-lifter": ("cepstral_lifter", float)},
                        _kaldi_options(knf.MfccOptions), knf.OnlineMfcc, lambda o: o.num_ceps),
}
FEATURE_KINDS = tuple(FEATURE_TYPES)


def _parse_bool(value: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise ValueError(f"expected true or false, found {value!r}")


@dataclass
class FeatureConfig:
    """A feature type and its Kaldi-named options (as in conf/fbank.conf)."""

    kind: str
    options: dict[str, str] = field(default_factory=dict)
    source: str = "<defaults>"

    def __post_init__(self):
        if self.kind not in FEATURE_TYPES:
            raise AsrserError(f"unknown feature type {self.kind!r}; expected one of {FEATURE_KINDS}")
        self._type = FEATURE_TYPES[self.kind]
        for name in self.options:
            if name not in _OWN_OPTIONS and name not in self._type.options:
                raise DataError(self.source, f"unknown {self.kind} option --{name}")
        self._knf = self._build()

    @classmethod
    def from_file(cls, kind: str, path: str | os.PathLike) -> "FeatureConfig":
        """Read a Kaldi option file: one `--name=value` per line, '#' starts a comment."""
        options: dict[str, str] = {}
        try:
            lines = Path(path).read_text().splitlines()
        except FileNotFoundError:
            raise DataError(path, "feature config does not exist") from None
        for n, line in enumerate(lines, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if not line.startswith("--") or "=" not in line:
                raise DataError(path, f"expected --name=value, found {line!r}", n)
            name, value = line[2:].split("=", 1)
            if name not in _OWN_OPTIONS and kind in FEATURE_TYPES and name not in FEATURE_TYPES[kind].options:
                raise DataError(path, f"unknown {kind} option --{name}", n)
            options[name] = value
        return cls(kind, options, str(path))

    def _build(self):
        opts = self._type.new_options()
        for name, value in self.options.items():
            if name in _OWN_OPTIONS:
                try:
                    _parse_bool(value) if _OWN_OPTIONS[name] is bool else float(value)
                except ValueError as e:
                    raise DataError(self.source, f"--{name}={value}: {e}") from None
                continue
            attr, typ = self._type.options[name]
            try:
                _set_attr(opts, attr, _parse_bool(value) if typ is bool else typ(value))
            except ValueError as e:
                raise DataError(self.source, f"--{name}={value}: {e}") from None
        return opts

    @property
    def sample_rate(self) -> int:
        return int(self._knf.frame_opts.samp_freq)

    @property
    def dither(self) -> float:
        return float(self.options.get("dither", "0"))

    @property
    def allow_downsample(self) -> bool:
        """Audio at a higher rate than --sample-frequency is resampled rather than refused."""
        return _parse_bool(self.options.get("allow-downsample", "false"))

    @property
    def allow_upsample(self) -> bool:
        """Audio at a lower rate than --sample-frequency is resampled rather than refused."""
        return _parse_bool(self.options.get("allow-upsample", "false"))

    @property
    def dim(self) -> int:
        return self._type.dim(self._knf)

    @property
    def frame_shift(self) -> float:
        return self._knf.frame_opts.frame_shift_ms / 1000.0

    @property
    def framing(self) -> "Framing":
        """Where this config's frames lie in the samples (frame length, shift, snip-edges)."""
        opts = self._knf.frame_opts
        return Framing(self.sample_rate, int(opts.samp_freq * 0.001 * opts.frame_length_ms),
                       int(opts.samp_freq * 0.001 * opts.frame_shift_ms), bool(opts.snip_edges))

    def compute(self, samples: np.ndarray, utt: str = "") -> np.ndarray:
        """Features (frames x dim, float32) of 16-bit-scale samples at the config's sample rate."""
        if self.dither > 0:
            # Seeded from the utterance id: reproducible, yet different noise for each utterance.
            rng = np.random.default_rng(zlib.crc32(utt.encode()))
            samples = samples + self.dither * rng.standard_normal(len(samples)).astype(np.float32)
        computer = self._type.new_extractor(self._knf)
        computer.accept_waveform(self.sample_rate, samples.tolist())
        computer.input_finished()
        n = computer.num_frames_ready
        out = np.empty((n, self.dim), dtype=np.float32)
        for i in range(n):
            out[i] = computer.get_frame(i)
        return out


@dataclass(frozen=True)
class Framing:
    """Kaldi's framing (feature-window.cc): windows of `window` samples every `shift` samples; with snip_edges
    only windows that fit in the signal, otherwise one frame per shift centred on it, the signal mirrored at
    its ends."""

    sample_rate: int
    window: int
    shift: int
    snip_edges: bool = True

    def num_frames(self, num_samples: int) -> int:
        if self.snip_edges:
            return 0 if num_samples < self.window else 1 + (num_samples - self.window) // self.shift
        return (num_samples + self.shift // 2) // self.shift

    def first_sample(self, frames: np.ndarray) -> np.ndarray:
        """The index of each frame's first sample (negative before the signal without snip-edges)."""
        frames = np.asarray(frames)
        return frames * self.shift if self.snip_edges else frames * self.shift + self.shift // 2 - self.window // 2

    def sample_indices(self, starts: np.ndarray, length: int, num_samples: int) -> np.ndarray:
        """(len(starts), length) sample indices of spans from `starts`, mirrored into [0, num_samples) as Kaldi
        does for frames that reach past either end."""
        idx = np.asarray(starts)[:, None] + np.arange(length)
        while ((idx < 0) | (idx >= num_samples)).any():
            idx = np.where(idx < 0, -idx - 1, np.where(idx >= num_samples, 2 * num_samples - 1 - idx, idx))
        return idx


def _set_attr(obj, dotted: str, value) -> None:
    *path, last = dotted.split(".")
    for part in path:
        obj = getattr(obj, part)
    setattr(obj, last, value)


def write_ark_scp(prefix: str | os.PathLike, items) -> int:
    """Write (key, matrix) pairs to PREFIX.ark and PREFIX.scp atomically; return how many were written.

    Both files are written under temporary names; the scp (which names the final ark) appears last, so an
    existing scp always points at a complete ark.
    """
    prefix = Path(prefix)
    ark, scp = prefix.with_name(prefix.name + ".ark"), prefix.with_name(prefix.name + ".scp")
    ark.parent.mkdir(parents=True, exist_ok=True)
    tmp_ark, tmp_scp = temp_name(ark), temp_name(scp)
    count = 0
    try:
        with kaldiio.WriteHelper(f"ark,scp:{tmp_ark},{tmp_scp}") as writer:
            for key, mat in items:
                writer(key, mat)
                count += 1
        lines = Path(tmp_scp).read_text().splitlines() if tmp_scp.exists() else []
        os.replace(tmp_ark, ark)
        with atomic_write(scp) as f:
            for line in lines:
                key, location = line.split(" ", 1)
                offset = location.rsplit(":", 1)[1]
                f.write(f"{key} {ark.resolve()}:{offset}\n")
    finally:
        for t in (tmp_ark, tmp_scp):
            t.unlink(missing_ok=True)
    return count


def compute_part(data_dir: str | os.PathLike, config: FeatureConfig, out_prefix: str | os.PathLike,
                 skip_bad: bool = False) -> None:
    """The job: features for every utterance of one data (sub)dir into OUT_PREFIX.{ark,scp}.

    Unusable audio raises AudioError naming utterance and file; with skip_bad it is logged and listed in
    OUT_PREFIX.bad instead. A part whose outputs are complete and current is not recomputed.
    """
    data_dir, out_prefix = Path(data_dir), Path(out_prefix)
    # The stage's driver (make_features) holds the lock of the data dir; the jobs share the feature dir.
    stamp = Stamp(out_prefix.with_name(f".{out_prefix.name}.done"), [data_dir / "wav.scp"], exclusive=False,
                  kind=config.kind, options=config.options, skip_bad=skip_bad)
    if stamp.is_current():
        log.info("%s: already complete, nothing to do", out_prefix)
        return
    wav = read_key_value(data_dir / "wav.scp")
    bad: list[str] = []
    num_frames: list[str] = []

    def features():
        for utt, spec in wav.items():
            try:
                audio = read_audio(spec, utt, config.sample_rate, config.allow_downsample, config.allow_upsample)
                feats = config.compute(audio.samples, utt)
                if feats.shape[0] == 0:
                    raise AudioError(utt, spec, f"too short for one {config._knf.frame_opts.frame_length_ms:g} ms "
                                                "frame")
            except AudioError as e:
                if not skip_bad:
                    raise
                log.warning("skipping %s", e)
                bad.append(f"{utt} {e.message}")
                continue
            num_frames.append(f"{utt} {feats.shape[0]}")
            yield utt, feats

    n = write_ark_scp(out_prefix, features())
    for suffix, lines in ((".bad", bad), (".utt2num_frames", num_frames)):
        with atomic_write(out_prefix.with_name(out_prefix.name + suffix)) as f:
            f.writelines(line + "\n" for line in lines)
    log.info("%s: %d utterances written, %d skipped", out_prefix, n, len(bad))
    stamp.write()


def cmvn_stats(feats: np.ndarray) -> np.ndarray:
    """Kaldi CMVN statistics (2 x dim+1: sums and count, sums of squares)."""
    return knf.compute_cmvn_stats(np.ascontiguousarray(feats, dtype=np.float32))


def apply_cmvn(feats: np.ndarray, stats: np.ndarray, norm_vars: bool = False) -> np.ndarray:
    """Normalise features with Kaldi CMVN stats (mean, and variance when norm_vars)."""
    stats = np.asarray(stats, dtype=np.float64)
    count = stats[0, -1]
    mean = stats[0, :-1] / count
    out = feats - mean
    if norm_vars:
        var = np.maximum(stats[1, :-1] / count - mean ** 2, 1e-10)
        out = out / np.sqrt(var)
    return out.astype(np.float32)


def add_deltas(feats: np.ndarray, order: int = 2, window: int = 2) -> np.ndarray:
    """Kaldi add-deltas: [x, delta, delta-delta, ...]."""
    opts = knf.DeltaOptions()
    opts.order, opts.window = order, window
    return knf.compute_deltas(opts, np.ascontiguousarray(feats, dtype=np.float32))


def splice(feats: np.ndarray, left: int, right: int) -> np.ndarray:
    """Kaldi splice-feats: each frame with its neighbours; edge frames repeat."""
    opts = knf.SpliceOptions()
    opts.left_context, opts.right_context = left, right
    return knf.splice_frames(np.ascontiguousarray(feats, dtype=np.float32), opts)


def make_features(data_dir: str | os.PathLike, log_dir: str | os.PathLike, feat_dir: str | os.PathLike,
                  config: FeatureConfig, config_path: str | os.PathLike, nj: int, cmd: str,
                  skip_bad: bool = False) -> None:
    """Kaldi's make_fbank.sh / make_mfcc.sh: features for a data dir in `nj` jobs through the runner.

    Writes <feat_dir>/raw_<kind>_<name>.JOB.{ark,scp}, then <data_dir>/feats.scp and utt2num_frames.
    With skip_bad, unusable utterances are listed in <data_dir>/bad_utts and removed from the data dir.
    Re-running with unchanged inputs does nothing; after a kill, finished jobs are not redone.
    """
    from .data import check_data_dir, fix_data_dir, split_data_dir
    from .runner import JobsFailed, run_jobs

    data_dir, log_dir, feat_dir = Path(data_dir), Path(log_dir), Path(feat_dir)
    stamp = Stamp(data_dir / f".{config.kind}.done", [data_dir / "wav.scp", data_dir / "utt2spk"],
                  kind=config.kind, options=config.options, skip_bad=skip_bad)
    if stamp.is_current(data_dir / "feats.scp"):
        log.info("%s: %s features are up to date; nothing to do", data_dir, config.kind)
        return
    data = check_data_dir(data_dir, need_text=False)
    nj = min(nj, len(data.speakers))
    parts = split_data_dir(data_dir, nj)
    name = data_dir.name
    prefix = feat_dir / f"raw_{config.kind}_{name}"
    feat_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "asrser.features", "--kind", config.kind,
            "--config", str(Path(config_path).resolve())]
    argv += ["--skip-bad"] if skip_bad else []
    argv += [str(parts[0].parent / "JOB"), f"{prefix}.JOB"]
    try:
        run_jobs(cmd, log_dir / f"make_{config.kind}_{name}.JOB.log", argv, nj)
    except JobsFailed as e:
        raise JobsFailed(f"feature extraction for {data_dir} failed: {e.summary}", e.details) from None
    feats: dict[str, str] = {}
    num_frames: dict[str, str] = {}
    bad: list[str] = []
    for job in range(1, nj + 1):
        feats.update(read_key_value(f"{prefix}.{job}.scp"))
        num_frames.update(read_key_value(f"{prefix}.{job}.utt2num_frames"))
        bad += Path(f"{prefix}.{job}.bad").read_text().splitlines()
    with atomic_write(data_dir / "bad_utts") as f:
        f.writelines(line + "\n" for line in sorted(bad))
    write_key_value(data_dir / "feats.scp", feats)
    write_key_value(data_dir / "utt2num_frames", num_frames)
    if bad:
        log.warning("%s: %d utterances skipped for bad audio; they are listed in %s", data_dir, len(bad),
                    data_dir / "bad_utts")
        fix_data_dir(data_dir)
    stamp = Stamp(stamp.path, [data_dir / "wav.scp", data_dir / "utt2spk"], kind=config.kind,
                  options=config.options, skip_bad=skip_bad)
    stamp.write()
    log.info("%s: %s features for %d utterances in %s", data_dir, config.kind, len(feats), feat_dir)


def compute_cmvn_stats(data_dir: str | os.PathLike, cmvn_dir: str | os.PathLike) -> None:
    """Kaldi's compute_cmvn_stats.sh: per-speaker CMVN stats into <cmvn_dir>/cmvn_<name>.ark and cmvn.scp."""
    from .data import check_data_dir

    data_dir = Path(data_dir)
    data = check_data_dir(data_dir, need_text=False, need_feats=True)
    feats = data.table("feats.scp")

    def stats():
        for spk, utts in data.spk2utt.items():
            yield spk, sum(cmvn_stats(read_matrix(feats[u], data_dir / "feats.scp", u)) for u in utts)

    prefix = Path(cmvn_dir) / f"cmvn_{data_dir.name}"
    write_ark_scp(prefix, stats())
    os.replace(prefix.with_name(prefix.name + ".scp"), data_dir / "cmvn.scp")


@dataclass(frozen=True)
class SpeakerCmvn:
    """Kaldi's apply-cmvn --utt2spk as an nnet dir's cmvn_opts asks for it: each speaker's features normalised
    by that speaker's own statistics (means, and variances with norm_vars), before the global normalisation.
    The statistics come from the features being normalised, not from a cmvn.scp that may be stale."""

    norm_means: bool = True
    norm_vars: bool = False

    @classmethod
    def from_opts(cls, opts: str, source: str | os.PathLike = "cmvn_opts") -> "SpeakerCmvn":
        """apply-cmvn's options (its defaults: --norm-means=true --norm-vars=false)."""
        values = {"--norm-means": True, "--norm-vars": False}
        for token in opts.split():
            name, _, value = token.partition("=")
            if name not in values or value not in ("true", "false"):
                raise DataError(source, f"unknown CMVN option {token!r} (--norm-means=true|false, "
                                        "--norm-vars=true|false)")
            values[name] = value == "true"
        if values["--norm-vars"] and not values["--norm-means"]:
            raise DataError(source, "--norm-vars=true needs --norm-means=true (as apply-cmvn)")
        return cls(values["--norm-means"], values["--norm-vars"])

    def opts(self) -> str:
        return f"--norm-means={str(self.norm_means).lower()} --norm-vars={str(self.norm_vars).lower()}"

    @staticmethod
    def speaker_stats(utterance_stats: dict[str, np.ndarray], utt2spk: dict[str, str],
                      source: str | os.PathLike) -> dict[str, np.ndarray]:
        """Per-speaker CMVN stats: the sums of each speaker's utterances' stats (utt -> cmvn_stats, of the
        utterances listed in `source`)."""
        stats: dict[str, np.ndarray] = {}
        for utt, s in utterance_stats.items():
            if utt not in utt2spk:
                raise DataError(source, f"utterance {utt} has no speaker in utt2spk (per-speaker CMVN needs one)")
            stats[utt2spk[utt]] = stats[utt2spk[utt]] + s if utt2spk[utt] in stats else s
        return stats

    def apply(self, feats: np.ndarray, speaker_stats: np.ndarray) -> np.ndarray:
        return apply_cmvn(feats, speaker_stats, self.norm_vars) if self.norm_means else feats


def global_cmvn_stats(feats_scp: str | os.PathLike, utts: Iterable[str] | None = None,
                      speaker_cmvn: SpeakerCmvn | None = None) -> np.ndarray:
    """Speaker-independent CMVN stats over every utterance of a feats.scp, or over `utts` of it (a training
    subset, for neural-net input); with speaker_cmvn, of the features after per-speaker normalisation (the
    speakers from the utt2spk beside feats.scp)."""
    keep = set(utts) if utts is not None else None
    feats = {u: rx for u, rx in read_key_value(feats_scp).items() if keep is None or u in keep}
    if not feats:
        raise DataError(feats_scp, "no features listed")
    if speaker_cmvn is not None:
        utt2spk = read_key_value(Path(feats_scp).with_name("utt2spk"))
        per_speaker = speaker_cmvn.speaker_stats(
            {utt: cmvn_stats(read_matrix(rx, feats_scp, utt)) for utt, rx in feats.items()}, utt2spk, feats_scp)
    total = None
    for utt, rxspec in feats.items():
        x = read_matrix(rxspec, feats_scp, utt)
        if speaker_cmvn is not None:
            x = speaker_cmvn.apply(x, per_speaker[utt2spk[utt]])
        s = cmvn_stats(x)
        total = s if total is None else total + s
    return total


def feature_distance(reference_stats: np.ndarray, other_stats: np.ndarray) -> dict[str, object]:
    """How far a feature set's mean sits from a reference set's (e.g. real test audio against the training
    data), from the two sets' global CMVN stats: per dimension |mean_other - mean_ref| / std_ref, and its mean
    over dimensions ("distance", in reference standard deviations) and maximum."""
    from .nnet.data import global_mean_std

    ref_mean, ref_std = global_mean_std(np.asarray(reference_stats, dtype=np.float64))
    other_mean, _ = global_mean_std(np.asarray(other_stats, dtype=np.float64))
    if ref_mean.shape != other_mean.shape:
        raise AsrserError(f"feature dimensions differ: {ref_mean.shape[0]} (reference) and {other_mean.shape[0]}")
    per_dim = np.abs(other_mean.astype(np.float64) - ref_mean) / ref_std
    return {"distance": float(per_dim.mean()), "max": float(per_dim.max()), "per_dim": per_dim.round(4).tolist(),
            "frames_reference": int(reference_stats[0, -1]), "frames_other": int(other_stats[0, -1])}


def main(argv: list[str] | None = None) -> None:
    from . import cli

    parser = argparse.ArgumentParser(prog="python -m asrser.features",
                                     description="Compute features for one data (sub)directory.")
    parser.add_argument("--kind", choices=FEATURE_KINDS, required=True)
    parser.add_argument("--config", required=True, help="Kaldi option file, e.g. conf/fbank.conf")
    parser.add_argument("--skip-bad", action="store_true", help="log and skip unusable audio instead of failing")
    parser.add_argument("data_dir")
    parser.add_argument("out_prefix", help="writes OUT_PREFIX.ark, OUT_PREFIX.scp, OUT_PREFIX.bad")
    cli.run(lambda a: compute_part(a.data_dir, FeatureConfig.from_file(a.kind, a.config), a.out_prefix, a.skip_bad),
            parser.parse_args(argv), program="asrser.features")


if __name__ == "__main__":
    main()
