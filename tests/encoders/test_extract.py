import sys
import types

import numpy as np
import pytest

from asrser.audio import read_audio, write_wav
from asrser.encoders import load_encoder
from asrser.encoders.extract import encode_in_chunks, extract_embeddings
from asrser.encoders.store import EmbeddingStore
from asrser.errors import AsrserError, AudioError
from helpers import run_step, synth_speechlike


class FramingEncoder:
    """A LayerEncoder whose frames see only their own 400 samples (stride 320): what a conv front end's frame
    sees, so its layers of a chunked utterance must equal those of the whole."""

    name = "ctc:framing"
    layer_names = ("frontend", "block1")
    dim = 2
    frame_shift = 0.02
    sample_rate = 16000

    def __init__(self):
        self.calls = 0
        self.torch_threads = set()

    def layers(self, samples):
        import torch

        self.calls += 1
        self.torch_threads.add(torch.get_num_threads())
        n = 0 if len(samples) < 400 else 1 + (len(samples) - 400) // 320
        frames = np.stack([samples[t * 320:t * 320 + 400] for t in range(n)]) if n else np.zeros((0, 400))
        first = np.stack([frames.mean(axis=1), frames.std(axis=1)], axis=1)
        return np.stack([first, first ** 2]).astype(np.float32)


@pytest.fixture
def framing_encoder(monkeypatch):
    """ctc:<any existing file> loads a FramingEncoder (the CTC encoder's module stood in for)."""
    encoder = FramingEncoder()
    fake = types.ModuleType("asrser.ctc.encoder")
    fake.load_ctc_encoder = lambda path, device="auto": encoder
    monkeypatch.setitem(sys.modules, "asrser.ctc", types.ModuleType("asrser.ctc"))
    monkeypatch.setitem(sys.modules, "asrser.ctc.encoder", fake)
    return encoder


def test_a_data_dir_goes_into_a_store(tiny_encoders, data_dir, tmp_path):
    """(HuBERT's extractor does not normalise: the samples must reach it in [-1, 1].)"""
    spec = f"hf:{tiny_encoders['hubert']}"
    store_dir = tmp_path / "emb"
    assert extract_embeddings(spec, data_dir, store_dir, "cpu", progress=False) == 6
    store = EmbeddingStore(store_dir)
    assert store.meta.encoder == spec
    assert (store.meta.layer_names, store.meta.dim, store.meta.frame_shift) == (("frontend", "block1", "block2"),
                                                                               32, 0.02)
    encoder = load_encoder(spec, "cpu")
    wav = dict(line.split(" ", 1) for line in (data_dir / "wav.scp").read_text().splitlines())
    assert store.utterances == sorted(wav)
    num_frames = dict(line.split() for line in (store_dir / "utt2num_frames").read_text().splitlines())
    for utt, path in wav.items():
        samples = read_audio(path, utt).samples / 32768
        layers = store.read(utt)
        assert layers.shape[1] == int(num_frames[utt]) == 1 + (len(samples) - 400) // 320
        np.testing.assert_allclose(layers, encoder.layers(samples), atol=1e-5)


def test_a_current_store_is_not_rewritten(framing_encoder, data_dir, tmp_path, caplog):
    caplog.set_level("INFO")
    model = tmp_path / "final.pt"
    model.write_bytes(b"weights 1")
    store_dir = tmp_path / "emb"
    import torch

    threads = torch.get_num_threads()
    assert extract_embeddings(f"ctc:{model}", data_dir, store_dir, "cpu", progress=False) == 6
    # Utterances side by side, each on one thread (small tensors); torch's setting restored afterwards.
    assert framing_encoder.torch_threads == {1} and torch.get_num_threads() == threads
    assert EmbeddingStore(store_dir).utterances == sorted(EmbeddingStore(store_dir).utterances)
    ark = store_dir / "feats.ark"
    written = ark.stat().st_mtime_ns
    assert extract_embeddings(f"ctc:{model}", data_dir, store_dir, progress=False) == 0
    assert ark.stat().st_mtime_ns == written and "up to date" in caplog.text
    # Anything that changes the embeddings makes them again: the options, the encoder's weights, the data.
    assert extract_embeddings(f"ctc:{model}", data_dir, store_dir, max_seconds=10, progress=False) == 6
    model.write_bytes(b"weights 2")
    assert extract_embeddings(f"ctc:{model}", data_dir, store_dir, max_seconds=10, progress=False) == 6
    lines = (data_dir / "wav.scp").read_text().splitlines()
    (data_dir / "wav.scp").write_text("\n".join(lines[1:]) + "\n")
    assert extract_embeddings(f"ctc:{model}", data_dir, store_dir, max_seconds=10, progress=False) == 5
    assert EmbeddingStore(store_dir).meta.utterances == 5


def test_long_utterances_are_encoded_in_windows(framing_encoder):
    samples = synth_speechlike(3.3, seed=2).astype(np.float32)
    whole = framing_encoder.layers(samples)
    framing_encoder.calls = 0
    for max_samples in (16000, 8000, 6000):
        chunked = encode_in_chunks(framing_encoder, samples, max_samples)
        assert chunked.shape == whole.shape
        np.testing.assert_array_equal(chunked, whole)
    assert framing_encoder.calls == sum(-(-len(samples) // piece) for piece in (12160, 6080, 4480))
    with pytest.raises(AsrserError, match=r"windows of 0.3125 s are too short for ctc:framing: at least 16 of its "
                                          r"frames \(0.32 s\)"):
        encode_in_chunks(framing_encoder, samples, 5000)


def test_another_sample_rate_is_refused_unless_resampling_is_allowed(framing_encoder, data_dir, tmp_path):
    model = tmp_path / "final.pt"
    model.write_bytes(b"x")
    narrow = tmp_path / "narrow.wav"
    write_wav(narrow, synth_speechlike(0.5, seed=1, rate=8000), 8000)
    with open(data_dir / "wav.scp", "a") as f:
        f.write(f"spkC_u9 {narrow}\n")
    with pytest.raises(AudioError, match=r"utterance spkC_u9 \(.*narrow.wav\): sample rate is 8000 Hz but "
                                         r"ctc:framing expects 16000 Hz \(run with --allow-upsample to resample"):
        extract_embeddings(f"ctc:{model}", data_dir, tmp_path / "emb", progress=False)
    assert not (tmp_path / "emb" / "embeddings.json").exists()
    assert extract_embeddings(f"ctc:{model}", data_dir, tmp_path / "emb", allow_upsample=True, progress=False) == 7
    assert EmbeddingStore(tmp_path / "emb").read("spkC_u9").shape == (2, 1 + (8000 - 400) // 320, 2)


def test_the_program_names_bad_audio_in_one_line_and_writes_the_store(tiny_encoders, data_dir, tmp_path):
    wav = dict(line.split(" ", 1) for line in (data_dir / "wav.scp").read_text().splitlines())
    broken = wav["spkB_u1"]
    good = open(broken, "rb").read()
    open(broken, "wb").write(good[:len(good) // 2])
    args = ["--device", "cpu", "--max-seconds", "0.5", f"hf:{tiny_encoders['hubert']}", data_dir, tmp_path / "emb"]
    run = run_step("extract_embeddings.py", *args, check=False)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(
        f"ERROR (extract_embeddings.py): utterance spkB_u1 ({broken}): truncated: the WAV header declares")
    assert not (tmp_path / "emb" / "embeddings.json").exists()

    open(broken, "wb").write(good)
    run = run_step("extract_embeddings.py", *args)
    assert "6 utterances" in run.stderr
    store = EmbeddingStore(tmp_path / "emb")
    # 0.7 s in windows of 0.5 s: as many frames as the whole utterance gives.
    assert store.meta.utterances == 6 and store.read("spkA_u1").shape == (3, 34, 32)


def test_audio_too_short_for_a_frame_is_named(tiny_encoders, data_dir, tmp_path):
    wav = dict(line.split(" ", 1) for line in (data_dir / "wav.scp").read_text().splitlines())
    write_wav(wav["spkB_u1"], np.zeros(300, np.int16), 16000)
    with pytest.raises(AudioError, match=r"utterance spkB_u1 .*: too short \(300 samples\) for one frame of hf:"):
        extract_embeddings(f"hf:{tiny_encoders['wav2vec2']}", data_dir, tmp_path / "emb", "cpu", progress=False)


def test_an_encoders_refusal_names_the_utterance(framing_encoder, data_dir, tmp_path, monkeypatch):
    def refuse(samples):
        raise AsrserError(f"ctc:framing: {len(samples)} samples are too short for one fbank frame")

    monkeypatch.setattr(framing_encoder, "layers", refuse)
    model = tmp_path / "final.pt"
    model.write_bytes(b"x")
    with pytest.raises(AudioError, match=r"^utterance spkA_u0 \(.*spkA_u0.wav\): ctc:framing: 9600 samples are too "
                                         r"short for one fbank frame$"):
        extract_embeddings(f"ctc:{model}", data_dir, tmp_path / "emb", progress=False)
