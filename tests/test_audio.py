"""Reading WAV, NIST SPHERE, FLAC and pipes; every kind of bad audio gives an error naming utterance and file."""


import numpy as np
import pytest
import soundfile

from asrser.audio import parse_sphere_header, read_audio, sphere_bytes, write_sphere, write_wav
from asrser.errors import AudioError
from helpers import synth_speechlike

SAMPLES = synth_speechlike(0.3, seed=1)


def test_sphere_header_is_ldc_style(tmp_path):
    path = tmp_path / "a.wav"
    write_sphere(path, SAMPLES, 16000, {"database_id": "TIMIT", "utterance_id": "abc0_sx1"})
    data = path.read_bytes()
    assert data.startswith(b"NIST_1A\n   1024\n")
    assert len(data) == 1024 + 2 * SAMPLES.size
    header = data[:1024].decode("ascii")
    assert "sample_count -i %d\n" % SAMPLES.size in header
    assert "sample_rate -i 16000\n" in header and "sample_n_bytes -i 2\n" in header
    assert "sample_byte_format -s2 01\n" in header and "database_id -s5 TIMIT\n" in header
    assert "end_head\n" in header
    fields, size = parse_sphere_header(data)
    assert size == 1024 and fields["sample_max"] == SAMPLES.max()
    assert np.array_equal(np.frombuffer(data[1024:], "<i2"), SAMPLES)


@pytest.mark.parametrize("fmt", ["wav", "sph", "flac", "pipe"])
def test_formats_read_the_same_samples(tmp_path, fmt):
    wav = tmp_path / "a.wav"
    write_wav(wav, SAMPLES, 16000)
    if fmt == "sph":
        spec = tmp_path / "a.sph"
        write_sphere(spec, SAMPLES, 16000)
    elif fmt == "flac":
        spec = tmp_path / "a.flac"
        soundfile.write(spec, SAMPLES, 16000, format="FLAC", subtype="PCM_16")
    elif fmt == "pipe":
        spec = f"sox {wav} -t wav - |"
    else:
        spec = wav
    audio = read_audio(str(spec), "utt1", 16000)
    assert audio.sample_rate == 16000
    assert np.array_equal(audio.samples, SAMPLES.astype(np.float32))


def test_pipe_with_streaming_header(tmp_path):
    wav = tmp_path / "a.wav"
    write_wav(wav, SAMPLES, 16000)
    # cat through a pipe keeps the sizes; sox writing to a pipe leaves the streaming size in the header
    audio = read_audio(f"sox {wav} -t wav - vol 1.0 |", "u", 16000)
    assert audio.samples.size == SAMPLES.size


def bad(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def wav_bytes(samples, rate=16000, channels=1):
    import io
    buf = io.BytesIO()
    soundfile.write(buf, samples if channels == 1 else np.stack([samples] * channels, 1), rate, format="WAV",
                    subtype="PCM_16")
    return buf.getvalue()


@pytest.mark.parametrize("case,message", [
    ("missing", "file does not exist"),
    ("empty", "empty file (0 bytes)"),
    ("truncated_wav", "truncated: the WAV header declares"),
    ("truncated_sphere", "truncated: SPHERE header says sample_count"),
    ("sphere_count_disagrees", "sample count disagrees with the data"),
    ("shorten_sphere", "sample_coding 'pcm,embedded-shorten-v2.00' is not supported"),
    ("stereo", "has 2 channels; expected mono"),
    ("wrong_rate", "sample rate is 8000 Hz but the feature config expects 16000 Hz"),
    ("no_samples", "contains no samples"),
    ("garbage", "unknown audio format"),
    ("failing_pipe", "command exited with code"),
])
def test_bad_audio_is_named(tmp_path, case, message):
    good = wav_bytes(SAMPLES)
    sph = sphere_bytes(SAMPLES, 16000)
    spec = {
        "missing": str(tmp_path / "nope.wav"),
        "empty": bad(tmp_path, "empty.wav", b""),
        "truncated_wav": bad(tmp_path, "t.wav", good[:len(good) // 2]),
        "truncated_sphere": bad(tmp_path, "t.sph", sph[:1024 + 100]),
        "sphere_count_disagrees": bad(tmp_path, "c.sph", sph + b"\0" * 400),
        "shorten_sphere": bad(tmp_path, "s.sph", sph.replace(b"end_head", b"sample_coding -s26 pcm,embedded-shorten-v2.00\nend_head", 1)),
        "stereo": bad(tmp_path, "st.wav", wav_bytes(SAMPLES, channels=2)),
        "wrong_rate": bad(tmp_path, "r.wav", wav_bytes(SAMPLES, rate=8000)),
        "no_samples": bad(tmp_path, "z.wav", wav_bytes(SAMPLES[:0])),
        "garbage": bad(tmp_path, "g.wav", b"hello world, not audio"),
        "failing_pipe": "false |",
    }[case]
    with pytest.raises(AudioError) as err:
        read_audio(spec, "spk1_utt7", 16000)
    assert message in str(err.value)
    assert str(err.value).startswith(f"utterance spk1_utt7 ({spec})")


def test_resampled_rxspec_reads_at_the_rate_asked_for_and_is_repeatable(tmp_path):
    from asrser.audio import resampled_rxspec

    sph = tmp_path / "a b.WAV"                      # SPHERE, under a name sox cannot tell the format by
    write_sphere(sph, SAMPLES, 16000)
    spec = resampled_rxspec(str(sph), 8000)
    audio = read_audio(spec, "u", 8000)
    assert audio.sample_rate == 8000 and abs(audio.samples.size - SAMPLES.size // 2) <= 1
    assert np.array_equal(read_audio(spec, "u", 8000).samples, audio.samples)     # no random dither
    piped = read_audio(resampled_rxspec(f"cat '{sph}' |", 8000), "u", 8000)
    assert np.array_equal(piped.samples, audio.samples)
