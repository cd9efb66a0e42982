import os
import shutil
import sys
import types

import numpy as np
import pytest

from asrser.encoders import LayerEncoder, load_encoder
from asrser.errors import AsrserError
from helpers import run_step, synth_speechlike


def _reference_hidden_states(directory, samples: np.ndarray, normalise: bool) -> np.ndarray:
    """The saved model's own hidden states, on input prepared by hand as its extractor is documented to."""
    import torch
    from transformers import AutoModel

    x = samples.astype(np.float64)
    if normalise:
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    model = AutoModel.from_pretrained(directory, local_files_only=True).eval()
    with torch.no_grad():
        out = model(torch.tensor(x, dtype=torch.float32)[None], output_hidden_states=True)
    return torch.stack(out.hidden_states)[:, 0].numpy()


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert", "wavlm"])
def test_layers_are_the_models_hidden_states(tiny_encoders, kind):
    encoder = load_encoder(f"hf:{tiny_encoders[kind]}", "cpu")
    assert isinstance(encoder, LayerEncoder)
    assert encoder.name == f"hf:{tiny_encoders[kind]}"
    assert encoder.layer_names == ("frontend", "block1", "block2")
    assert (encoder.dim, encoder.sample_rate, encoder.frame_shift) == (32, 16000, 0.02)
    samples = synth_speechlike(1.03, seed=3) / np.float32(32768)
    layers = encoder.layers(samples)
    assert layers.dtype == np.float32
    # A conv front end of receptive field 400 samples and stride 320: 1 + (16480 - 400) // 320 frames.
    assert layers.shape == (3, 51, 32)
    expected = _reference_hidden_states(tiny_encoders[kind], samples, normalise=kind != "hubert")
    np.testing.assert_allclose(layers, expected, rtol=1e-4, atol=1e-4)
    # The extractor's normalisation is applied exactly when its config says so: a louder copy of the audio
    # gives the same layers with it, other layers without it.
    louder = encoder.layers(samples * 1.5)
    assert np.allclose(louder, layers, atol=1e-4) == (kind != "hubert")


def test_audio_shorter_than_one_frame_gives_no_frames(tiny_encoders):
    encoder = load_encoder(f"hf:{tiny_encoders['wav2vec2']}", "cpu")
    assert encoder.layers(np.ones(399, np.float32)).shape == (3, 0, 32)
    assert encoder.layers(np.ones(400, np.float32)).shape == (3, 1, 32)
    assert encoder.num_frames(16480) == 51


def test_loading_stays_offline(tiny_encoders, tmp_path, monkeypatch):
    """The hub is never asked: with every connection refused and no offline variable set, a directory loads and
    encodes (transformers is imported offline); a hub name is refused as a missing directory, not looked up."""
    code = ("import os, socket\n"
            "def refuse(*args): raise RuntimeError(f'network access: {args}')\n"
            "socket.socket.connect = socket.socket.connect_ex = refuse\n"
            "socket.getaddrinfo = socket.create_connection = refuse\n"
            "import numpy as np\n"
            "from asrser.encoders import load_encoder\n"
            f"encoder = load_encoder('hf:{tiny_encoders['wavlm']}', 'cpu')\n"
            "print(encoder.layers(np.ones(800, np.float32)).shape, os.environ['HF_HUB_OFFLINE'], "
            "os.environ['TRANSFORMERS_OFFLINE'])\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    import subprocess

    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(3, 2, 32) 1 1"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AsrserError, match=r"facebook/wav2vec2-base: no such directory; .*never downloads"):
        load_encoder("hf:facebook/wav2vec2-base")


def _copy_without(src, dst, *names):
    shutil.copytree(src, dst)
    for name in names:
        (dst / name).unlink()
    return dst


def test_a_directory_that_is_not_an_encoder_is_named(tiny_encoders, tmp_path):
    from transformers import BertConfig

    w2v = tiny_encoders["wav2vec2"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AsrserError, match=rf"^{empty}: not a Hugging Face model directory \(no config.json; it "
                                          r"is empty\)$"):
        load_encoder(f"hf:{empty}")
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("x")
    with pytest.raises(AsrserError, match=r"no config.json; it holds notes.txt\)$"):
        load_encoder(f"hf:{stray}")
    with pytest.raises(AsrserError, match=r"a file; expected a local wav2vec2/HuBERT/WavLM model directory"):
        load_encoder(f"hf:{stray / 'notes.txt'}")

    text_model = tmp_path / "bert"
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
               architectures=["BertModel"]).save_pretrained(text_model)
    with pytest.raises(AsrserError, match=rf"^{text_model}: config.json describes a 'bert' model \(BertModel\), "
                                          r"not a speech encoder of a kind read here \(wav2vec2, hubert, wavlm\)$"):
        load_encoder(f"hf:{text_model}")

    no_weights = _copy_without(w2v, tmp_path / "no_weights", "model.safetensors")
    with pytest.raises(AsrserError, match=rf"^{no_weights}: wav2vec2 config.json but no weights \(model.safetensors "
                                          r"or pytorch_model.bin; it holds config.json, preprocessor_config.json\)$"):
        load_encoder(f"hf:{no_weights}")

    no_extractor = _copy_without(w2v, tmp_path / "no_extractor", "preprocessor_config.json")
    with pytest.raises(AsrserError, match=rf"^{no_extractor}: no preprocessor_config.json"):
        load_encoder(f"hf:{no_extractor}")

    cut = _copy_without(w2v, tmp_path / "cut")
    data = (cut / "model.safetensors").read_bytes()
    (cut / "model.safetensors").write_bytes(data[:len(data) // 2])
    with pytest.raises(AsrserError, match=rf"^{cut}: cannot load the wav2vec2 model \(.+\)$"):
        load_encoder(f"hf:{cut}", "cpu")

    bad_json = _copy_without(w2v, tmp_path / "bad_json")
    (bad_json / "config.json").write_text("{model_type: wav2vec2")
    with pytest.raises(AsrserError, match=rf"^{bad_json}/config.json: not valid JSON"):
        load_encoder(f"hf:{bad_json}")


def test_weights_of_another_model_are_refused(tiny_encoders, tmp_path):
    """transformers would initialise the parameters it finds no weights for at random, with a mere warning:
    an encoder of random layers must not pass for the user's model."""
    other = _copy_without(tiny_encoders["wav2vec2"], tmp_path / "other")
    from safetensors.numpy import load_file, save_file

    weights = load_file(other / "model.safetensors")
    save_file({k: v for k, v in weights.items() if ".layers.1." not in k}, other / "model.safetensors",
              metadata={"format": "pt"})
    with pytest.raises(AsrserError, match=rf"^{other}: the weights lack \d+ of the encoder's parameters, e.g. "
                                          r"encoder.layers.1.\S+ \(not this model's weights, or a cut file\)$"):
        load_encoder(f"hf:{other}", "cpu")


def test_a_fine_tuned_ctc_checkpoint_gives_its_encoder(tiny_encoders, tmp_path):
    """A Wav2Vec2ForCTC directory (the common published form) loads as its bare encoder; the CTC head's
    weights are left unused."""
    import torch
    from transformers import Wav2Vec2ForCTC

    base = load_encoder(f"hf:{tiny_encoders['wav2vec2']}", "cpu")
    ctc = Wav2Vec2ForCTC.from_pretrained(tiny_encoders["wav2vec2"], vocab_size=10)
    torch.manual_seed(1)
    ctc.lm_head.reset_parameters()
    out = tmp_path / "ctc"
    ctc.save_pretrained(out)
    shutil.copy(tiny_encoders["wav2vec2"] / "preprocessor_config.json", out)
    samples = synth_speechlike(0.5, seed=1) / np.float32(32768)
    np.testing.assert_allclose(load_encoder(f"hf:{out}", "cpu").layers(samples), base.layers(samples), atol=1e-5)


def test_specs_are_routed_by_kind(tmp_path, monkeypatch):
    """ctc:PATH goes to asrser.ctc.encoder.load_ctc_encoder (imported only then), with the path and device."""
    calls = []
    fake = types.ModuleType("asrser.ctc.encoder")
    fake.load_ctc_encoder = lambda path, device="auto": calls.append((path, device)) or "the CTC encoder"
    monkeypatch.setitem(sys.modules, "asrser.ctc", types.ModuleType("asrser.ctc"))
    monkeypatch.setitem(sys.modules, "asrser.ctc.encoder", fake)
    model = tmp_path / "final.pt"
    model.write_bytes(b"x")
    assert load_encoder(f"ctc:{model}", "cpu") == "the CTC encoder"
    assert calls == [(str(model), "cpu")]
    with pytest.raises(AsrserError, match=r"nothing.pt: no such CTC model"):
        load_encoder(f"ctc:{tmp_path / 'nothing.pt'}")
    for spec in ("wavlm", "hf:", "torch:model.pt"):
        with pytest.raises(AsrserError, match=rf"encoder '{spec}': expected hf:DIR .* or ctc:PATH"):
            load_encoder(spec)


def test_the_program_names_a_bad_encoder_in_one_line(tmp_path, data_dir):
    run = run_step("extract_embeddings.py", f"hf:{tmp_path}", data_dir, tmp_path / "store", check=False)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (f"ERROR (extract_embeddings.py): {tmp_path}: not a Hugging Face "
                                                   f"model directory (no config.json; it holds audio, data)")
    assert "Traceback" not in run.stderr
