"""Features: agreement with an independent Kaldi-compatible implementation, config errors, the make_feats
program through the runner, bad input, idempotence and resume."""

import warnings
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from asrser.data import DataDir, validate_data_dir
from asrser.audio import read_audio
from asrser.errors import AsrserError, AudioError, DataError
from asrser.features import FeatureConfig, add_deltas, apply_cmvn, cmvn_stats, compute_part, splice
from helpers import REPO, run_step, synth_speechlike

X = synth_speechlike(1.0, seed=3).astype(np.float32)


def lhotse_reference(kind: str, **kw):
    from lhotse.features.kaldi.layers import Wav2LogFilterBank, Wav2MFCC
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = (Wav2LogFilterBank(num_filters=40, window_type="hamming", **kw) if kind == "fbank"
                 else Wav2MFCC(**kw))
        return layer(torch.from_numpy(X)[None])[0].numpy()


@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
def test_matches_lhotse_kaldi_layers(kind):
    config = FeatureConfig.from_file(kind, REPO / f"conf/{kind}.conf")
    ours = FeatureConfig(kind, {k: v for k, v in config.options.items() if k != "dither"}).compute(X)
    ref = lhotse_reference(kind, snip_edges=True, high_freq=0.0, dither=0.0)
    assert ours.shape == ref.shape == (98, 40 if kind == "fbank" else 13)
    assert np.abs(ours - ref).max() < 2e-3


def test_dither_is_seeded_by_utterance():
    config = FeatureConfig.from_file("fbank", REPO / "conf/fbank.conf")
    a, b = config.compute(X, "utt1"), config.compute(X, "utt1")
    c = config.compute(X, "utt2")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_config_errors_name_file_and_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# comment\n--num-mel-bins=40\n--num-mel-bnis=40\n")
    with pytest.raises(DataError, match=r"bad.conf:3: unknown fbank option --num-mel-bnis"):
        FeatureConfig.from_file("fbank", conf)
    conf.write_text("--num-mel-bins 40\n")
    with pytest.raises(DataError, match=r"bad.conf:1: expected --name=value"):
        FeatureConfig.from_file("fbank", conf)
    conf.write_text("--snip-edges=maybe\n")
    with pytest.raises(DataError, match=r"--snip-edges=maybe: expected true or false"):
        FeatureConfig.from_file("fbank", conf)


def test_a_new_feature_kind_is_one_registry_entry_and_its_conf(tmp_path, monkeypatch):
    """A kind that kaldi-native-fbank lacks (here log frame energy, written in numpy) registers its options and
    an extractor with Kaldi's online interface; FeatureConfig reads its conf file and computes it."""
    from types import SimpleNamespace

    from asrser.features import FEATURE_TYPES, FeatureType

    class OnlineLogEnergy:
        def __init__(self, opts):
            self.opts, self.samples, self.frames = opts, [], []

        def accept_waveform(self, rate, samples):
            self.samples += samples

        def input_finished(self):
            f = self.opts.frame_opts
            win, shift = int(f.samp_freq * f.frame_length_ms / 1000), int(f.samp_freq * f.frame_shift_ms / 1000)
            x = np.asarray(self.samples, dtype=np.float64)
            self.frames = [np.log(np.sum(x[i:i + win] ** 2)) for i in range(0, len(x) - win + 1, shift)]

        @property
        def num_frames_ready(self):
            return len(self.frames)

        def get_frame(self, i):
            return [self.frames[i]]

    def new_options():
        return SimpleNamespace(frame_opts=SimpleNamespace(samp_freq=16000.0, frame_length_ms=25.0,
                                                          frame_shift_ms=10.0))

    monkeypatch.setitem(FEATURE_TYPES, "logenergy", FeatureType(
        {"frame-length": ("frame_opts.frame_length_ms", float), "frame-shift": ("frame_opts.frame_shift_ms", float)},
        new_options, OnlineLogEnergy, lambda opts: 1))
    conf = tmp_path / "logenergy.conf"
    conf.write_text("--frame-length=20\n--frame-shift=5\n")
    config = FeatureConfig.from_file("logenergy", conf)
    feats = config.compute(X)
    assert config.dim == 1 and config.frame_shift == 0.005 and feats.shape == ((len(X) - 320) // 80 + 1, 1)
    assert np.allclose(feats[3, 0], np.log(np.sum(X[240:560].astype(np.float64) ** 2)), rtol=1e-6)
    conf.write_text("--num-mel-bins=40\n")
    with pytest.raises(DataError, match=r"logenergy.conf:1: unknown logenergy option --num-mel-bins"):
        FeatureConfig.from_file("logenergy", conf)


def test_cmvn_deltas_splice():
    feats = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32) * 3 + 5
    stats = cmvn_stats(feats)
    assert stats.shape == (2, 5) and stats[0, -1] == 50
    normed = apply_cmvn(feats, stats, norm_vars=True)
    assert np.allclose(normed.mean(0), 0, atol=1e-4) and np.allclose(normed.std(0), 1, atol=1e-3)
    d = add_deltas(feats)
    assert d.shape == (50, 12)
    assert np.allclose(d[10, 4:8], sum(j * (feats[10 + j] - feats[10 - j]) for j in (1, 2)) / 10, atol=1e-5)
    s = splice(feats, 2, 3)
    assert s.shape == (50, 24)
    assert np.array_equal(s[0, :4], feats[0]) and np.array_equal(s[0, 8:12], feats[0])   # edge repeats
    assert np.array_equal(s[10, 20:24], feats[13])


def make_feats(data, tmp_path, runner_cmd, *extra, check=True):
    return run_step("make_feats.py", "--feat-type", "fbank", "--nj", 2, "--cmd", runner_cmd, *extra,
                    data, tmp_path / "exp/make_fbank", tmp_path / "fbank", check=check)


def test_make_feats_end_to_end(data_dir, tmp_path, runner_cmd):
    make_feats(data_dir, tmp_path, runner_cmd)
    assert validate_data_dir(data_dir, need_feats=True) == []
    feats = dict(kaldiio.load_scp_sequential(str(data_dir / "feats.scp")))
    assert sorted(feats) == DataDir(data_dir).utts
    assert all(m.shape[1] == 40 for m in feats.values())
    nframes = DataDir(data_dir).table("utt2num_frames")
    assert all(int(nframes[u]) == m.shape[0] for u, m in feats.items())
    for job in (1, 2):
        assert (tmp_path / f"exp/make_fbank/make_fbank_data.{job}.log").is_file()
    run_step("compute_cmvn_stats.py", data_dir, tmp_path / "cmvn")
    cmvn = dict(kaldiio.load_scp_sequential(str(data_dir / "cmvn.scp")))
    assert np.allclose(cmvn["spkB"], cmvn_stats(feats["spkB_u0"]) + cmvn_stats(feats["spkB_u1"]))
    run_step("compute_global_cmvn.py", data_dir, tmp_path / "global.stats")
    total = kaldiio.load_mat(str(tmp_path / "global.stats"))
    assert total[0, -1] == sum(m.shape[0] for m in feats.values())


def test_rerun_does_no_work(data_dir, tmp_path, runner_cmd):
    make_feats(data_dir, tmp_path, runner_cmd)
    arks = sorted((tmp_path / "fbank").glob("*.ark"))
    before = [p.stat().st_mtime_ns for p in arks]
    proc = make_feats(data_dir, tmp_path, runner_cmd)
    assert "up to date; nothing to do" in proc.stderr
    assert [p.stat().st_mtime_ns for p in arks] == before


def break_one_file(data_dir: Path) -> tuple[str, str]:
    utt, path = (data_dir / "wav.scp").read_text().splitlines()[3].split()
    Path(path).write_bytes(Path(path).read_bytes()[:300])     # truncated mid-data
    return utt, path


def test_broken_file_is_named_and_leaves_no_feats(data_dir, tmp_path, runner_cmd):
    utt, path = break_one_file(data_dir)
    proc = make_feats(data_dir, tmp_path, runner_cmd, check=False)
    assert proc.returncode == 1
    assert f"utterance {utt} ({path}): truncated" in proc.stderr
    assert "job 1 exited with code 1; its log is" in proc.stderr   # spkB is in the first part
    assert "make_fbank_data.1.log" in proc.stderr
    assert not (data_dir / "feats.scp").exists()
    assert not list((tmp_path / "fbank").glob("*1.scp"))     # no partial output of the failed job
    assert not list((tmp_path / "fbank").glob(".*tmp*"))


def test_skip_bad_logs_and_drops(data_dir, tmp_path, runner_cmd):
    utt, path = break_one_file(data_dir)
    make_feats(data_dir, tmp_path, runner_cmd, "--skip-bad")
    assert (data_dir / "bad_utts").read_text().startswith(f"{utt} truncated")
    assert utt not in DataDir(data_dir).utts
    assert validate_data_dir(data_dir, need_feats=True) == []


def test_killed_stage_resumes_without_redoing_finished_jobs(data_dir, tmp_path, runner_cmd):
    from asrser.data import split_data_dir
    config = FeatureConfig.from_file("fbank", REPO / "conf/fbank.conf")
    parts = split_data_dir(data_dir, 2)
    # As if killed: job 1 finished, job 2 left a partial temporary ark behind.
    compute_part(parts[0], config, tmp_path / "fbank/raw_fbank_data.1")
    (tmp_path / "fbank/.raw_fbank_data.2.ark.tmp999").write_bytes(b"partial")
    done_ark = tmp_path / "fbank/raw_fbank_data.1.ark"
    mtime = done_ark.stat().st_mtime_ns
    make_feats(data_dir, tmp_path, runner_cmd, "--config", REPO / "conf/fbank.conf")
    assert done_ark.stat().st_mtime_ns == mtime
    assert "already complete" in (tmp_path / "exp/make_fbank/make_fbank_data.1.log").read_text()
    assert validate_data_dir(data_dir, need_feats=True) == []
    assert len(dict(kaldiio.load_scp_sequential(str(data_dir / "feats.scp")))) == 6


def test_a_missing_or_broken_feature_ark_names_the_utterance_and_the_file(data_dir, tmp_path, runner_cmd):
    """Every reader of feats.scp: CMVN (per speaker and global), the GMMs' features, the nets' frames."""
    from asrser.gmm.feats import FeaturePipeline, iter_features
    from asrser.nnet.data import prepare_frames

    make_feats(data_dir, tmp_path, runner_cmd)
    run_step("compute_global_cmvn.py", data_dir, tmp_path / "global.stats")
    utt, rxspec = (data_dir / "feats.scp").read_text().splitlines()[0].split()
    ark = Path(rxspec.rsplit(":", 1)[0])
    ark.rename(ark.with_suffix(".moved"))
    where = f"{data_dir / 'feats.scp'}: utterance {utt}: {ark} does not exist"
    for program, args in (("compute_cmvn_stats.py", [tmp_path / "cmvn"]),
                          ("compute_global_cmvn.py", [tmp_path / "global2.stats"])):
        proc = run_step(program, data_dir, *args, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == f"ERROR ({program}): {where}"
    with pytest.raises(DataError, match=f"^{where}$"):
        list(iter_features(data_dir, FeaturePipeline(transform="delta")))
    with pytest.raises(DataError, match=f"^{where}$"):
        prepare_frames(data_dir, None, tmp_path / "global.stats", tmp_path / "frames")
    ark.with_suffix(".moved").write_bytes(ark.with_suffix(".moved").read_bytes()[:100])   # truncated
    ark.with_suffix(".moved").rename(ark)
    proc = run_step("compute_cmvn_stats.py", data_dir, tmp_path / "cmvn", check=False)
    assert f"ERROR (compute_cmvn_stats.py): {data_dir / 'feats.scp'}: utterance {utt}: cannot read {rxspec} " \
           "(truncated, or not a Kaldi ark)" in proc.stderr


ASTERISK_WAV = Path("/usr/share/asterisk/sounds/en_US_f_Allison/hello-world.wav")


@pytest.fixture
def data_8k(tmp_path) -> tuple[Path, str, Path]:
    """A one-utterance data dir of real 8 kHz speech (an Asterisk prompt when the package is installed, else
    8 kHz audio written here); returns (data dir, utterance, wav path)."""
    from asrser.audio import write_wav
    wav = ASTERISK_WAV if ASTERISK_WAV.is_file() else tmp_path / "u8k.wav"
    if not ASTERISK_WAV.is_file():
        write_wav(wav, synth_speechlike(1.4, seed=5, rate=8000), 8000)
    data = tmp_path / "data8k"
    data.mkdir()
    (data / "wav.scp").write_text(f"spk-u1 {wav}\n")
    (data / "utt2spk").write_text("spk-u1 spk\n")
    (data / "spk2utt").write_text("spk spk-u1\n")
    return data, "spk-u1", wav


def conf_with(tmp_path: Path, base: str, *extra: str) -> Path:
    conf = tmp_path / f"{base}.extra.conf"
    conf.write_text((REPO / f"conf/{base}.conf").read_text() + "".join(f"{line}\n" for line in extra))
    return conf


def test_8k_audio_with_a_16k_config_is_refused_naming_the_file(data_8k, tmp_path):
    data, utt, wav = data_8k
    config = FeatureConfig.from_file("fbank", REPO / "conf/fbank.conf")
    with pytest.raises(AudioError) as err:
        compute_part(data, config, tmp_path / "out/raw")
    assert str(err.value).startswith(f"utterance {utt} ({wav}): sample rate is 8000 Hz but the feature config "
                                     "expects 16000 Hz (set --allow-upsample=true in the feature config")
    assert not (tmp_path / "out/raw.scp").exists()


def test_8k_audio_is_resampled_when_the_config_allows_it(data_8k, tmp_path):
    """--allow-upsample=true (Kaldi's option): the features equal, up to resampling filters, those of the audio
    resampled by sox in a wav.scp pipe."""
    data, utt, wav = data_8k
    config = FeatureConfig.from_file("fbank", conf_with(tmp_path, "fbank", "--allow-upsample=true"))
    compute_part(data, config, tmp_path / "out/raw")
    ours = dict(kaldiio.load_scp_sequential(str(tmp_path / "out/raw.scp")))[utt]
    seconds = read_audio(str(wav)).duration
    assert ours.shape == (config.framing.num_frames(int(seconds * 16000)), 40)
    piped = read_audio(f"sox {wav} -r 16000 -t wav - |", utt, 16000)
    theirs = config.compute(piped.samples, utt)
    assert theirs.shape == ours.shape
    # The 20 lowest of the 40 mel bins lie below 1.8 kHz, where both resamplers keep the signal as it is.
    assert np.corrcoef(ours[:, :20].ravel(), theirs[:, :20].ravel())[0, 1] > 0.999       # 0.9998 on the Asterisk prompt


def test_16k_audio_with_an_8k_config_is_refused_or_downsampled(data_dir, tmp_path):
    utt, wav = (data_dir / "wav.scp").read_text().splitlines()[0].split()
    config = FeatureConfig.from_file("mfcc", REPO / "conf/mfcc_8k.conf")
    with pytest.raises(AudioError, match=r"sample rate is 16000 Hz but the feature config expects 8000 Hz "
                                         r"\(set --allow-downsample=true"):
        compute_part(data_dir, config, tmp_path / "out/raw")
    config = FeatureConfig.from_file("mfcc", conf_with(tmp_path, "mfcc_8k", "--allow-downsample=true"))
    compute_part(data_dir, config, tmp_path / "out/raw")
    feats = dict(kaldiio.load_scp_sequential(str(tmp_path / "out/raw.scp")))
    assert feats[utt].shape == (config.framing.num_frames(int(read_audio(wav).duration * 8000)), 13)


@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
def test_8k_configs_read_8k_audio_as_it_is(kind, data_8k, tmp_path):
    data, utt, wav = data_8k
    config = FeatureConfig.from_file(kind, REPO / f"conf/{kind}_8k.conf")
    assert config.sample_rate == 8000 and not config.allow_upsample
    compute_part(data, config, tmp_path / "out/raw")
    feats = dict(kaldiio.load_scp_sequential(str(tmp_path / "out/raw.scp")))[utt]
    audio = read_audio(str(wav))
    assert feats.shape == (config.framing.num_frames(len(audio.samples)), 40 if kind == "fbank" else 13)
    assert np.isfinite(feats).all()


def test_a_resampling_option_must_be_true_or_false(tmp_path):
    with pytest.raises(DataError, match=r"--allow-upsample=maybe: expected true or false"):
        FeatureConfig.from_file("fbank", conf_with(tmp_path, "fbank", "--allow-upsample=maybe"))


def test_feature_distance_in_reference_standard_deviations():
    from asrser.features import feature_distance

    rng = np.random.default_rng(0)
    reference = rng.normal([0.0, 10.0], [1.0, 2.0], size=(4000, 2)).astype(np.float32)
    other = reference + np.array([3.0, -1.0], dtype=np.float32)            # 3 sd and 0.5 sd away
    d = feature_distance(cmvn_stats(reference), cmvn_stats(other))
    sd = reference.std(axis=0)
    assert d["per_dim"] == pytest.approx([3.0 / sd[0], 1.0 / sd[1]], abs=1e-3)
    assert d["distance"] == pytest.approx((3.0 / sd[0] + 1.0 / sd[1]) / 2, abs=1e-3)
    assert d["max"] == pytest.approx(3.0 / sd[0], abs=1e-3) and d["frames_other"] == 4000
    with pytest.raises(AsrserError, match="feature dimensions differ: 2 .* and 3"):
        feature_distance(cmvn_stats(reference), cmvn_stats(np.zeros((5, 3), np.float32)))


def test_speaker_cmvn_options_are_apply_cmvns():
    from asrser.features import SpeakerCmvn

    assert SpeakerCmvn.from_opts("") == SpeakerCmvn(True, False)            # apply-cmvn's defaults
    assert SpeakerCmvn.from_opts("--norm-vars=true") == SpeakerCmvn(True, True)
    assert SpeakerCmvn.from_opts("--norm-means=false").apply(np.ones((2, 3), np.float32), None)[0, 0] == 1
    with pytest.raises(DataError, match="cmvn_opts: unknown CMVN option '--norm-vars'"):
        SpeakerCmvn.from_opts("--norm-vars")
    with pytest.raises(DataError, match="needs --norm-means=true"):
        SpeakerCmvn.from_opts("--norm-means=false --norm-vars=true")
