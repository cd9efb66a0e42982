"""Speech with exact phone boundaries from libespeak-ng (through ctypes).

espeak-ng reports a phoneme event with the exact start sample of every phone it synthesises. This module
returns 16 kHz audio with those boundaries (in 16 kHz samples). Custom voices (vocal-tract scaling, pitch,
voice quality) are espeak "variant" files written into a private copy of the data dir.

libespeak-ng cannot be re-initialised in one process (terminate-then-initialise hangs), so there is one
synthesiser per process, and all custom voices must be known when it starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AsrserError

OUTPUT_RATE = 16000
_ESPEAK_RATE = 22050
RAW_RATE = _ESPEAK_RATE
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_EVENT_WORD, _EVENT_PHONEME, _EVENT_END_OF_LIST = 1, 7, 0
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PHONEMES_INPUT = 0x100        # espeakPHONEMES: accept [[phoneme]] mnemonics in the text
# espeak_PARAMETER values
RATE, VOLUME, PITCH, RANGE, WORDGAP = 1, 2, 3, 4, 7
# espeak's language groups (lang/<group>) the corpora use: West Germanic (English) and Sino-Tibetan (Mandarin
# read from pinyin, cmn-latn-pinyin)
LANGUAGE_GROUPS = ("gmw", "sit")
MAX_VARIANTS = 320             # espeak keeps at most ~349 voices in all (languages included); stay below


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass
class Voice:
    """An espeak voice variant: a base voice plus formant scaling, pitch and voice-quality settings.

    formants: {n: (freq%, height%, width%)}; pitch: (base Hz, high Hz) as espeak's `pitch` line.
    """

    name: str
    gender: str = "male"
    formants: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    pitch: tuple[int, int] | None = None
    flutter: int | None = None
    roughness: int | None = None
    breath: tuple[int, ...] | None = None
    tone: tuple[int, ...] | None = None
    extra: tuple[str, ...] = ()

    def variant_text(self) -> str:
        lines = ["language variant", f"name {self.name}", f"gender {self.gender}"]
        if self.pitch:
            lines.append(f"pitch {self.pitch[0]} {self.pitch[1]}")
        for n, (freq, height, width) in sorted(self.formants.items()):
            lines.append(f"formant {n} {freq} {height} {width}")
        if self.flutter is not None:
            lines.append(f"flutter {self.flutter}")
        if self.roughness is not None:
            lines.append(f"roughness {self.roughness}")
        if self.breath:
            lines.append("breath " + " ".join(map(str, self.breath)))
        if self.tone:
            lines.append("tone " + " ".join(map(str, self.tone)))
        lines.extend(self.extra)
        return "\n".join(lines) + "\n"


@dataclass
class Synthesis:
    samples: np.ndarray                      # int16 at OUTPUT_RATE
    phones: list[tuple[str, int]]            # (espeak phoneme mnemonic, start sample), in order
    words: list[tuple[int, int, int]]        # (text position (1-based chars), length, start sample)
    sample_rate: int = OUTPUT_RATE
    raw: np.ndarray | None = None            # espeak's own int16 output at RAW_RATE (exact-zero stop closures)


def _system_data_dir(lib) -> Path:
    path = ctypes.c_char_p()
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info(ctypes.byref(path))
    if path.value:
        return Path(path.value.decode())
    for candidate in ("/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
                      "/usr/share/espeak-ng-data", "/usr/lib/espeak-ng-data"):
        if Path(candidate).is_dir():
            return Path(candidate)
    raise AsrserError("cannot find espeak-ng-data; install the Debian package espeak-ng-data")


def _private_data_dir(system: Path, voices: list[Voice], root: Path) -> Path:
    """A data dir that links the system's files and adds our variants under voices/!v."""
    data = root / "espeak-ng-data"
    (data / "voices" / "!v").mkdir(parents=True)
    for entry in system.iterdir():
        if entry.name not in ("voices", "lang"):
            (data / entry.name).symlink_to(entry)
    # Only the language groups the corpora speak: espeak lists at most ~349 voices including the variants,
    # and warns on every voice selection when the ~130 languages and our variants exceed that.
    (data / "lang").mkdir()
    for group in LANGUAGE_GROUPS:
        (data / "lang" / group).symlink_to(system / "lang" / group)
    for entry in (system / "voices").iterdir():
        if entry.name != "!v":
            (data / "voices" / entry.name).symlink_to(entry)
    for voice in voices:
        (data / "voices" / "!v" / voice.name).write_text(voice.variant_text())
    return data


@contextlib.contextmanager
def _private_pulse_runtime(root: Path):
    """PULSE_RUNTIME_PATH set to an existing empty directory of our own while espeak-ng initialises.

    espeak_Initialize opens its audio library (pcaudio -> PulseAudio) even when it only returns samples, and
    what it then synthesises depends on that: where PulseAudio had to create its runtime directory (the first
    espeak-ng on a fresh machine, or after /tmp was cleared), the plain espeak voices came out audibly
    different (measured: 69 of the default mini-TIMIT's 198 speakers, every sentence, labels included).
    A directory of our own that already exists makes every initialisation take the same path."""
    runtime = root / "pulse"
    runtime.mkdir(mode=0o700, exist_ok=True)
    before = os.environ.get("PULSE_RUNTIME_PATH")
    os.environ["PULSE_RUNTIME_PATH"] = str(runtime)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PULSE_RUNTIME_PATH", None)
        else:
            os.environ["PULSE_RUNTIME_PATH"] = before


class Synthesizer:
    """The process's espeak-ng instance. Use Synthesizer.get(voices) rather than the constructor."""

    _instance: "Synthesizer | None" = None

    @classmethod
    def get(cls, voices: list[Voice] = ()) -> "Synthesizer":
        if cls._instance is None:
            cls._instance = cls(list(voices))
        else:
            missing = {v.name for v in voices} - cls._instance.voice_names
            if missing:
                raise AsrserError(f"espeak-ng is already initialised in this process without voices "
                                  f"{sorted(missing)[:3]}; create all voices before the first synthesis")
        return cls._instance

    def __init__(self, voices: list[Voice]):
        if len(voices) > MAX_VARIANTS:
            raise AsrserError(f"{len(voices)} voice variants exceed espeak's limit of about {MAX_VARIANTS} "
                              "per data dir")
        try:
            self._lib = ctypes.CDLL("libespeak-ng.so.1")
        except OSError:
            raise AsrserError("libespeak-ng is not installed (Debian packages libespeak-ng1 espeak-ng-data)") \
                from None
        self.voice_names = {v.name for v in voices}
        self._tmp = tempfile.TemporaryDirectory(prefix="asrser-espeak-")
        data_dir = None
        if voices:
            data_dir = _private_data_dir(_system_data_dir(self._lib), voices, Path(self._tmp.name))
            # espeak_Initialize takes the directory that *contains* espeak-ng-data
        with _private_pulse_runtime(Path(self._tmp.name)):
            rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                               str(data_dir.parent).encode() if data_dir else None,
                                               _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
        if rate != _ESPEAK_RATE:
            raise AsrserError(f"espeak_Initialize failed or gave an unexpected sample rate ({rate})")
        self._chunks: list[np.ndarray] = []
        self._phones: list[tuple[str, int]] = []
        self._words: list[tuple[int, int, int]] = []
        self._callback = _CALLBACK(self._on_audio)      # keep a reference: espeak calls it later
        self._lib.espeak_SetSynthCallback(self._callback)
        self._current_voice = None

    def _on_audio(self, wav, n, events):
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_END_OF_LIST:
            e = events[i]
            if e.type == _EVENT_PHONEME:
                self._phones.append((e.id.string.decode("ascii", errors="replace"), e.sample))
            elif e.type == _EVENT_WORD:
                self._words.append((e.text_position, e.length, e.sample))
            i += 1
        return 0

    def synthesize_raw(self, text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50,
                       pitch_range: int = 50, volume: int = 100, wordgap: int = 0
                       ) -> tuple[np.ndarray, list[tuple[str, int]], list[tuple[int, int, int]]]:
        """espeak's own output: 22.05 kHz samples, phone events and word events in its samples."""
        if voice != self._current_voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise AsrserError(f"espeak-ng has no voice {voice!r}")
            self._current_voice = voice
        for param, value in ((RATE, rate), (PITCH, pitch), (RANGE, pitch_range), (VOLUME, volume),
                             (WORDGAP, wordgap)):
            self._lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._phones, self._words = [], [], []
        data = text.encode("utf-8")
        err = self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _PHONEMES_INPUT,
                                     None, None)
        if err != 0:
            raise AsrserError(f"espeak_Synth failed with code {err} for text {text!r}")
        self._lib.espeak_Synchronize()
        raw = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return raw, list(self._phones), list(self._words)


    def phonemes(self, text: str, voice: str = "en-us") -> list[str]:
        """espeak's transcription of text, one string per clause: ASCII mnemonics with stress marks (' ,),
        words separated by spaces (espeak_TextToPhonemes, which may merge a function word with its neighbour)."""
        if voice != self._current_voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise AsrserError(f"espeak-ng has no voice {voice!r}")
            self._current_voice = voice
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = ctypes.c_char_p(ctypes.addressof(buffer))
        clauses = []
        while pointer.value:
            clause = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, 0)
            clauses.append(clause.decode("ascii", errors="replace").strip() if clause else "")
        return clauses


@functools.lru_cache(maxsize=64)
def _lowpass(up: int, down: int) -> np.ndarray:
    """resample_poly's own default filter design (Kaiser 5.0), made once per ratio and process."""
    from scipy.signal import firwin

    return firwin(2 * 10 * max(up, down) + 1, 1.0 / max(up, down), window=("kaiser", 5.0))


def resample_int16(samples: np.ndarray, up: int, down: int) -> np.ndarray:
    """int16 samples resampled by up / down (in lowest terms), rounded and clipped to int16: what
    scipy's resample_poly gives with its default filter, whose design is kept per ratio. The synthesisers
    (espeak-ng at 22.05 kHz, Festival's voices) reach OUTPUT_RATE through this and output_sample."""
    if up == down:
        return samples
    from scipy.signal import resample_poly   # not at module level: keeps the synthesis server small

    resampled = resample_poly(samples.astype(np.float64), up, down, window=_lowpass(up, down))
    return np.clip(np.round(resampled), -32768, 32767).astype(np.int16)


def output_sample(position: float, scale: float, total: int) -> int:
    """An event's position (a sample, or a time) times `scale`: the output sample it falls on, at most
    `total` (the output's length)."""
    return min(int(round(position * scale)), total)


def to_output_rate(raw: np.ndarray, phones: list[tuple[str, int]], words: list[tuple[int, int, int]]
                   ) -> Synthesis:
    """espeak's 22.05 kHz output and event samples -> a 16 kHz Synthesis."""
    samples = resample_int16(raw, OUTPUT_RATE // 50, _ESPEAK_RATE // 50)
    scale = OUTPUT_RATE / _ESPEAK_RATE
    phones = [(name, output_sample(s, scale, len(samples))) for name, s in phones]
    words = [(pos, length, output_sample(s, scale, len(samples))) for pos, length, s in words]
    return Synthesis(samples, phones, words, raw=raw)


class IsolatedSynthesizer:
    """espeak-ng in a small server process; every group of utterances is synthesised in a fresh fork of it.

    espeak-ng keeps synthesis state from one utterance to the next (its output samples depend on what was
    spoken before), so a corpus would depend on the order and grouping of its utterances. A child forked
    from a server whose synthesiser is initialised but unused starts from exactly the same state every
    time, so a group's bytes depend only on the group (e.g. one speaker's sentences, in order), whatever
    the job split. A fork costs several times the synthesis of a sentence, so corpora fork once per group
    rather than once per utterance. Forking the caller itself would cost more once it has loaded scipy
    (fork time grows with the address space); the server holds only numpy, ctypes and the synthesiser, and
    the caller resamples."""

    def __init__(self, voices: list[Voice], language: str = "en-us"):
        import subprocess
        import sys

        # The server imports this module without the package's __init__ (which loads the Kaldi wheels): a
        # smaller process forks and exits faster, and it forks once per group of utterances.
        package_dir = str(Path(__file__).resolve().parents[1])
        bootstrap = ("import sys, types; package = types.ModuleType('asrser'); "
                     f"package.__path__ = [{package_dir!r}]; sys.modules['asrser'] = package; "
                     "from asrser.synth.espeak import _serve; _serve()")
        self._proc = subprocess.Popen([sys.executable, "-c", bootstrap], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
        self._send(("init", list(voices), language))
        status = self._receive()
        if status[0] != "ok":
            raise AsrserError(f"espeak synthesis server failed to start: {status[1]}")

    def _send(self, message) -> None:
        self._proc.stdin.write(_frame(message))
        self._proc.stdin.flush()

    def _receive(self):
        return _read_message(self._proc.stdout)

    def synthesize(self, text: str, **params) -> Synthesis:
        """One utterance from the pristine state."""
        return self.synthesize_group([(text, params)])[0]

    def synthesize_group(self, requests: list[tuple[str, dict]]) -> list[Synthesis]:
        """(text, synthesize_raw parameters) requests spoken in order by one fork of the pristine state."""
        self._send(("synth", list(requests)))
        reply = self._receive()
        if reply is None:
            raise AsrserError(f"espeak synthesis server exited during {requests[0][0]!r:.200} "
                              f"(a group of {len(requests)})")
        if reply[0] != "ok":
            _, failed, trace = reply
            raise AsrserError(f"espeak synthesis failed for {requests[failed][0]!r:.200}: "
                              f"{trace.strip().splitlines()[-1]}")
        return [to_output_rate(*result) for result in reply[1]]

    def phonemes_group(self, requests: list[tuple[str, str]]) -> list[list[str]]:
        """espeak's clause transcriptions (Synthesizer.phonemes) of (text, voice) requests, made by a fork of the
        pristine state (transcribing changes espeak's state, which later synthesis would depend on)."""
        self._send(("phonemes", list(requests)))
        reply = self._receive()
        if reply is None or reply[0] != "ok":
            detail = "it exited" if reply is None else reply[2].strip().splitlines()[-1]
            raise AsrserError(f"espeak transcription failed for {requests[0][0]!r:.200}: {detail}")
        return reply[1]

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class PartitionedSynthesizer:
    """IsolatedSynthesizers for more voice variants than one espeak-ng data dir holds (MAX_VARIANTS; the
    full-size mini-TIMIT has more): the voices, sorted by name, are dealt into equal consecutive parts, one
    server each, started when first asked for. At most MAX_VARIANTS voices make one part: the one server, and
    the bytes, of a single IsolatedSynthesizer. The parts depend on the voice list only, never on the job split."""

    def __init__(self, voices: list[Voice], language: str = "en-us"):
        voices = sorted(voices, key=lambda v: v.name)
        n_parts = max(1, -(-len(voices) // MAX_VARIANTS))
        self._parts = [voices[i * len(voices) // n_parts:(i + 1) * len(voices) // n_parts] for i in range(n_parts)]
        self._part_of = {v.name: i for i, part in enumerate(self._parts) for v in part}
        self._language = language
        self._servers: dict[int, IsolatedSynthesizer] = {}

    def for_voice(self, name: str | None) -> IsolatedSynthesizer:
        """The server that holds variant `name` (None: no variant, e.g. transcription alone)."""
        if name is not None and name not in self._part_of:
            raise AsrserError(f"espeak voice variant {name!r} is not among the {len(self._part_of)} this "
                              "synthesiser was made with")
        part = self._part_of[name] if name is not None else 0
        if part not in self._servers:
            self._servers[part] = IsolatedSynthesizer(self._parts[part], self._language)
        return self._servers[part]

    def close(self) -> None:
        while self._servers:
            self._servers.popitem()[1].close()


def _frame(message) -> bytes:
    """A message between the client and the synthesis server: the lengths of its JSON and of its binary part,
    then both. In the JSON each int16 sample array is {"int16": [byte offset, sample count]} into the binary
    part, which holds the arrays' little-endian bytes (base64 inside the JSON cost more than the synthesis's
    own bookkeeping), and each Voice is {"voice": its fields}: plain data only, nothing a reader executes."""
    import json
    import struct

    arrays: list[bytes] = []
    offset = 0

    def encode(value):
        nonlocal offset
        if isinstance(value, np.ndarray):
            data = value.astype("<i2").tobytes()
            arrays.append(data)
            offset += len(data)
            return {"int16": [offset - len(data), len(data) // 2]}
        if isinstance(value, Voice):
            return {"voice": {**value.__dict__, "formants": sorted(value.formants.items())}}
        raise TypeError(f"cannot send {type(value).__name__}")

    data = json.dumps(message, default=encode).encode("utf-8")
    return struct.pack("<QQ", len(data), offset) + data + b"".join(arrays)


def _read_message(stream):
    import json
    import struct

    def as_tuple(value):
        return tuple(value) if isinstance(value, list) else value

    def decode(obj):
        if obj.keys() == {"int16"}:
            offset, count = obj["int16"]
            return np.frombuffer(binary, dtype="<i2", count=count, offset=offset).astype(np.int16)
        if obj.keys() == {"voice"} and isinstance(obj["voice"], dict):   # not synthesize(text, voice=name)
            fields = {k: as_tuple(v) for k, v in obj["voice"].items()}
            return Voice(**{**fields, "formants": {n: tuple(v) for n, v in obj["voice"]["formants"]}})
        return obj

    head = stream.read(16)
    if len(head) < 16:
        return None
    n_json, n_binary = struct.unpack("<QQ", head)
    text, binary = stream.read(n_json), stream.read(n_binary)
    return json.loads(text, object_hook=decode)


def _serve() -> None:
    """The synthesis server's loop: requests on stdin, each answered by a forked child on stdout."""
    import sys
    import traceback

    stdin, out_fd = sys.stdin.buffer, sys.stdout.fileno()

    def reply(message) -> None:
        view = memoryview(_frame(message))
        while view:                      # a pipe may take a large reply in parts
            view = view[os.write(out_fd, view):]

    synthesizer = None
    while True:
        message = _read_message(stdin)
        if message is None:
            return
        if message[0] == "init":
            try:
                synthesizer = Synthesizer.get(message[1])
                # load the language's dictionary once here rather than in every child (it does not speak)
                synthesizer._lib.espeak_SetVoiceByName(message[2].encode())
                reply(("ok",))
            except Exception as e:
                reply(("error", str(e)))
            continue
        kind, requests = message
        pid = os.fork()
        if pid == 0:
            done = []
            try:
                for text, params in requests:
                    done.append(synthesizer.synthesize_raw(text, **params) if kind == "synth"
                                else synthesizer.phonemes(text, params))
                reply(("ok", done))
            except BaseException:
                reply(("error", len(done), traceback.format_exc()))
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status != 0:   # the child died inside espeak-ng (e.g. its abort on a too-long voice name) unanswered
            how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                   else f"exit status {os.waitstatus_to_exitcode(status)}")
            reply(("error", 0, f"espeak-ng died with {how} while speaking this group (voice "
                               f"{requests[0][1].get('voice', 'en-us')!r})"))


def available() -> bool:
    """True when libespeak-ng can be loaded."""
    try:
        ctypes.CDLL("libespeak-ng.so.1")
        return True
    except OSError:
        return False
