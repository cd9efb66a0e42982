"""Reading the audio a wav.scp names (WAV, NIST SPHERE, FLAC files or Kaldi-style `command |` pipes) and
writing NIST SPHERE. Samples come back as float32 on the 16-bit integer scale, as Kaldi reads them.

Every failure raises AudioError naming the utterance and the file or command.
"""

from __future__ import annotations

import io
import os
import shlex
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from .errors import AudioError
from .fileio import atomic_write

SPHERE_HEADER_BYTES = 1024
# Streaming writers (sox to a pipe) cannot seek back to fill in the data size; they leave one of these.
_WAV_STREAMING_SIZES = {0, 0xFFFFFFFF, 0x7FFFF000, 0x7FFFFFFF}


@dataclass
class Audio:
    samples: np.ndarray      # float32, shape (num_samples,), 16-bit integer scale
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def read_audio(rxspec: str, utt: str | None = None, sample_rate: int | None = None,
               allow_downsample: bool = False, allow_upsample: bool = False) -> Audio:
    """Read one wav.scp entry: a file path or a shell pipeline ending in '|' (Kaldi's convention).

    Checks that the audio is mono, non-empty, complete, and at `sample_rate` when given. Audio at another rate
    is an error unless the caller allows resampling in that direction (Kaldi's --allow-downsample and
    --allow-upsample of compute-fbank-feats): then it is resampled to `sample_rate`.
    """
    spec = rxspec.strip()
    if spec.endswith("|"):
        command = spec[:-1].strip()
        proc = subprocess.run(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise AudioError(utt, spec, f"command exited with code {proc.returncode}: {' | '.join(err)}")
        data, streamed = proc.stdout, True
    else:
        try:
            data = Path(spec).read_bytes()
        except FileNotFoundError:
            raise AudioError(utt, spec, "file does not exist") from None
        except OSError as e:
            raise AudioError(utt, spec, f"cannot read: {e.strerror}") from None
        streamed = False
    audio = decode_audio(data, utt, spec, streamed)
    if sample_rate is not None and audio.sample_rate != sample_rate:
        upsample = audio.sample_rate < sample_rate
        if not (allow_upsample if upsample else allow_downsample):
            option = "--allow-upsample=true" if upsample else "--allow-downsample=true"
            raise AudioError(utt, spec, f"sample rate is {audio.sample_rate} Hz but the feature config expects "
                                        f"{sample_rate} Hz (set {option} in the feature config to resample, use "
                                        f"a config for {audio.sample_rate} Hz, or resample in wav.scp, e.g. "
                                        f"'sox FILE -r {sample_rate} -t wav - |')")
        audio = Audio(resample(audio.samples, audio.sample_rate, sample_rate), sample_rate)
    return audio


def resampled_rxspec(rxspec: str, sample_rate: int) -> str:
    """A wav.scp entry that gives the same audio at `sample_rate`: a file or a `command |` pipe (any format sox
    tells by its header, SPHERE included), resampled by sox. `-D` turns sox's automatic dither off, so the
    same input gives the same bytes every time (dither, seeded, is the feature extractor's)."""
    spec = rxspec.strip()
    if spec.endswith("|"):
        return f"{spec} sox -D - -t wav -r {int(sample_rate)} - |"
    return f"sox -D {shlex.quote(spec)} -t wav -r {int(sample_rate)} - |"


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (polyphase FIR with a Kaiser window) of float samples, as float32."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(from_rate), int(to_rate))
    return resample_poly(samples.astype(np.float64), int(to_rate) // g, int(from_rate) // g).astype(np.float32)


def decode_audio(data: bytes, utt: str | None, source: str, streamed: bool = False) -> Audio:
    if len(data) == 0:
        raise AudioError(utt, source, "empty file (0 bytes)")
    if data.startswith(b"NIST_1A"):
        samples, rate = _decode_sphere(data, utt, source)
    elif data[:4] in (b"RIFF", b"RIFX") and data[8:12] == b"WAVE":
        samples, rate = _decode_wav(data, utt, source, streamed)
    elif data.startswith(b"fLaC"):
        samples, rate = _decode_soundfile(data, utt, source)
    else:
        raise AudioError(utt, source, f"unknown audio format (starts with {data[:8]!r}); "
                                      "expected WAV, NIST SPHERE or FLAC")
    if samples.ndim == 2:
        if samples.shape[1] != 1:
            raise AudioError(utt, source, f"has {samples.shape[1]} channels; expected mono "
                                          "(select one, e.g. 'sox FILE -t wav - remix 1 |')")
        samples = samples[:, 0]
    if samples.size == 0:
        raise AudioError(utt, source, "contains no samples")
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), rate)


def _decode_soundfile(data: bytes, utt, source) -> tuple[np.ndarray, int]:
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as e:
        raise AudioError(utt, source, f"cannot decode: {e}") from None
    return samples * 32768.0, rate


def _decode_wav(data: bytes, utt, source, streamed: bool) -> tuple[np.ndarray, int]:
    """Walk the RIFF chunks so that a truncated file is an error rather than silently shorter audio."""
    pos, fmt_seen = 12, False
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt_seen = True
        elif chunk_id == b"data":
            available = len(data) - body
            if not fmt_seen:
                raise AudioError(utt, source, "WAV data chunk comes before its fmt chunk")
            if size > available and not (streamed and size in _WAV_STREAMING_SIZES):
                raise AudioError(utt, source, f"truncated: the WAV header declares {size} data bytes but only "
                                              f"{available} follow")
            if streamed and size in _WAV_STREAMING_SIZES:
                data = data[:pos + 4] + struct.pack("<I", available) + data[body:]
            return _decode_soundfile(data, utt, source)
        pos = body + size + (size & 1)
    raise AudioError(utt, source, "truncated: no WAV data chunk found")


def parse_sphere_header(data: bytes, source: str = "", utt: str | None = None) -> tuple[dict, int]:
    """Return the SPHERE header fields (typed) and the header size in bytes."""
    try:
        first, size_line = data[:16].split(b"\n")[:2]
        header_bytes = int(size_line)
    except ValueError:
        raise AudioError(utt, source, "malformed NIST SPHERE header (no header size on line 2)") from None
    if len(data) < header_bytes:
        raise AudioError(utt, source, f"truncated: file is shorter than its {header_bytes}-byte SPHERE header")
    fields: dict[str, object] = {}
    for raw in data[:header_bytes].split(b"\n")[2:]:
        line = raw.decode("ascii", errors="replace").strip()
        if line == "end_head":
            break
        if not line or line.startswith(";"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            raise AudioError(utt, source, f"malformed SPHERE header line {line!r}")
        name, kind, value = parts
        fields[name] = int(value) if kind == "-i" else float(value) if kind == "-r" else value
    else:
        raise AudioError(utt, source, "malformed NIST SPHERE header (no end_head)")
    return fields, header_bytes


def sphere_layout(head: bytes, file_size: int, source: str = "", utt: str | None = None) -> tuple[dict, int]:
    """The header fields and sample count of a SPHERE file from its first bytes (at least the header) and its
    size, checked: uncompressed 16-bit PCM with a sample rate, and a sample_count equal to what the file holds
    (so that a truncated file is an error, not silently shorter audio)."""
    fields, header_bytes = parse_sphere_header(head, source, utt)
    coding = str(fields.get("sample_coding", "pcm"))
    if coding != "pcm":
        raise AudioError(utt, source, f"SPHERE sample_coding {coding!r} is not supported; decompress it first, "
                                      "e.g. 'sph2pipe -f wav FILE |'")
    width = int(fields.get("sample_n_bytes", 2))
    if width != 2:
        raise AudioError(utt, source, f"SPHERE sample_n_bytes={width}; only 16-bit PCM is supported")
    if "sample_rate" not in fields:
        raise AudioError(utt, source, "SPHERE header has no sample_rate")
    if str(fields.get("sample_byte_format", "01")) not in ("01", "10"):
        raise AudioError(utt, source, f"unknown SPHERE sample_byte_format {fields['sample_byte_format']!r}")
    held = (file_size - header_bytes) // (width * int(fields.get("channel_count", 1)))
    declared = fields.get("sample_count")
    if declared is not None and int(declared) != held:
        kind = "truncated" if int(declared) > held else "sample count disagrees with the data"
        raise AudioError(utt, source, f"{kind}: SPHERE header says sample_count {declared} but the file holds "
                                      f"{held} samples")
    return fields, held


def _decode_sphere(data: bytes, utt, source) -> tuple[np.ndarray, int]:
    fields, _ = sphere_layout(data, len(data), source, utt)
    samples, rate = _decode_soundfile(data, utt, source)      # libsndfile reads NIST SPHERE PCM
    if rate != int(fields["sample_rate"]):
        raise AudioError(utt, source, f"libsndfile read {rate} Hz, the SPHERE header says {fields['sample_rate']}")
    return samples, rate


def sphere_bytes(samples: np.ndarray, sample_rate: int, fields: dict[str, object] | None = None) -> bytes:
    """A NIST SPHERE file (LDC style: 1024-byte NIST_1A header, 16-bit little-endian PCM) as bytes."""
    pcm = np.asarray(samples)
    if pcm.dtype != np.int16:
        raise ValueError("sphere_bytes needs int16 samples")
    header: dict[str, object] = dict(fields or {})
    header.update({
        "channel_count": 1, "sample_count": int(pcm.size), "sample_rate": int(sample_rate),
        "sample_min": int(pcm.min()) if pcm.size else 0, "sample_max": int(pcm.max()) if pcm.size else 0,
        "sample_n_bytes": 2, "sample_byte_format": "01", "sample_sig_bits": 16,
    })
    lines = ["NIST_1A", f"{SPHERE_HEADER_BYTES:7d}"]
    for name, value in header.items():
        if isinstance(value, int):
            lines.append(f"{name} -i {value}")
        elif isinstance(value, float):
            lines.append(f"{name} -r {value}")
        else:
            lines.append(f"{name} -s{len(str(value))} {value}")
    lines.append("end_head")
    text = ("\n".join(lines) + "\n").encode("ascii")
    if len(text) > SPHERE_HEADER_BYTES:
        raise ValueError("SPHERE header fields do not fit in 1024 bytes")
    return text + b" " * (SPHERE_HEADER_BYTES - len(text)) + pcm.astype("<i2").tobytes()


def write_sphere(path: str | os.PathLike, samples: np.ndarray, sample_rate: int,
                 fields: dict[str, object] | None = None) -> None:
    with atomic_write(path, "wb") as f:
        f.write(sphere_bytes(samples, sample_rate, fields))


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono WAV, written atomically."""
    pcm = np.asarray(samples)
    if pcm.dtype != np.int16:
        raise ValueError("write_wav needs int16 samples")
    buf = io.BytesIO()
    soundfile.write(buf, pcm, sample_rate, subtype="PCM_16", format="WAV")
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())
