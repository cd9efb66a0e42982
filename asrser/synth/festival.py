"""Speech with phone timings from Festival (a second synthesiser beside espeak-ng, for voice variety).

Festival's Segment relation gives every phone's end time; its US voices speak the `radio` phone set, which is
close to TIMIT's. This module keeps one Festival process per voice (starting one costs about 0.4 s, several
utterances' worth) and turns its output into 16 kHz audio with TIMIT-61 segments: pauses at the edges become
h#, inner ones pau; stops and affricates are split into closure and release at the burst found in the signal
(Festival's stop spans both, and the burst is found as mini-TIMIT finds espeak's); unstressed ih / ah / er
become ix / ax / axr, and mini-TIMIT's context rules label the rest as TIMIT does (hv, ux, ax-h, nx, epi, the
last made silent in the audio).

Vocal-tract scaling: the voice is synthesised faster and higher by the scaling factor and then played slower by
resampling, so formants move by the factor while duration and F0 stay where the caller asked.

The voices come from the Debian packages in DEBIAN_PACKAGES (`tools/install_debian.sh` installs them).

Measured on 100 grammar sentences (text_grammar), Festival 2.5 from Debian 12: utterances per CPU second
(Festival's and the caller's) kal_diphone 118, ked_diphone 135, cmu_us_slt_arctic_hts 15.5; phones agreeing with
the nearest CMUdict pronunciation of each word at TIMIT's 39 (edit distance) 97.8%, 96.8%, 99.5% (misses are
mostly reduced vowels, "this" as dh ah s, and ked's r after er). Boundaries are looser than espeak-ng's: the
median distance from a label boundary to the strongest spectral change within 40 ms is 16, 17 and 11 ms
(espeak-ng's labels 4.6 ms by the same measure; labels placed at random 23 ms).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import AsrserError
from .espeak import OUTPUT_RATE, output_sample, resample_int16
from .mini_timit import Segment, _context_rules, _energy_rise, epenthetic_gaps

# the installed US English voices: two diphone voices (male, 16 kHz) and an HTS voice (female, 32 kHz)
VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
HTS_VOICES = ("cmu_us_slt_arctic_hts",)
DEBIAN_PACKAGES = ("festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts")
# The HTS engine makes its own F0 and ignores Festival's intonation parameters; its speaker's mean F0 (the
# voice's f0model) anchors f0_mean as a shift in semitones.
_HTS_F0_MEAN = 165.0

# Festival `radio` phone -> TIMIT-61 label. The radio set is TIMIT's phone set without the closures, q, epi,
# ax-h, ix, ux and eng; brth (a breath) is a pause for TIMIT.
RADIO_TO_TIMIT = {
    **{p: p for p in ("aa ae ah ao aw ax axr ay b ch d dh dx eh el em en er ey f g hh hv ih iy jh k l m n nx "
                      "ng ow oy p r s sh t th uh uw v w y z zh").split()},
    "pau": "pau", "h#": "pau", "brth": "pau",
}
# reduced forms of unstressed vowels, as TIMIT labels them
_UNSTRESSED = {"ih": "ix", "ah": "ax", "er": "axr"}
_CLOSURE = {"p": "pcl", "t": "tcl", "k": "kcl", "ch": "tcl", "b": "bcl", "d": "dcl", "g": "gcl", "jh": "dcl"}

_MARK = "ASRSER-FESTIVAL"
# Scheme run once per process: a request is one call, whose outcome is one marker line on stdout.
_SCHEME_HELPERS = f"""
(define (asrser_save_segments utt file)
  (let ((fd (fopen file "w")))
    (mapcar (lambda (seg)
              (format fd "%s %f %l\\n" (item.name seg) (item.feat seg "end")
                      (item.feat seg "R:SylStructure.parent.stress")))
            (utt.relation.items utt 'Segment))
    (fclose fd)))
(define (asrser_save_words utt file)
  (let ((fd (fopen file "w")))
    (let ((token (utt.relation.first utt 'Token)))   ; the text's tokens, in order
      (while token
        (format fd "token %s\\n" (item.feat token "id"))
        (set! token (item.next token))))
    (mapcar (lambda (word)
              (format fd "%s %f %f %s\\n" (item.feat word "R:Token.parent.id") (item.feat word "word_start")
                      (item.feat word "word_end") (item.name word)))
            (utt.relation.items utt 'Word))
    (fclose fd)))
(define (asrser_speak text stem)
  (unwind-protect
    (let ((utt (SynthText text)))
      (utt.save.wave utt (string-append stem ".wav") 'riff)
      (asrser_save_segments utt (string-append stem ".segs"))
      (asrser_save_words utt (string-append stem ".words"))
      (format t "{_MARK} ok\\n"))
    (format t "{_MARK} error\\n")))
"""


@dataclass
class FestivalSynthesis:
    samples: np.ndarray           # int16 at OUTPUT_RATE
    segments: list[Segment]       # TIMIT-61, contiguous, covering the samples
    words: list[tuple[str, int, int]]   # (word as Festival read it, start, end) in samples; no pauses
    word_tokens: list[int] = None       # per word: the index of the text's whitespace token it reads
    sample_rate: int = OUTPUT_RATE


def available(voice: str | None = None) -> bool:
    """True when the festival program (and the voice, if named) is installed."""
    if shutil.which("festival") is None:
        return False
    return voice is None or _voice_dir(voice) is not None


def _voice_dir(voice: str) -> Path | None:
    for root in (Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices")):
        for found in root.glob(f"*/{voice}"):
            if found.is_dir():
                return found
    return None


def _scheme_string(text: str) -> str:
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


class FestivalSynthesizer:
    """One Festival process speaking one voice; every synthesize() call reuses it. Close it (or use `with`)."""

    def __init__(self, voice: str):
        if voice not in VOICES:
            raise AsrserError(f"unknown Festival voice {voice!r} (known: {', '.join(VOICES)})")
        if not available(voice):
            raise AsrserError(f"Festival voice {voice} is not installed (Debian packages "
                              f"{' '.join(DEBIAN_PACKAGES)}; tools/install_debian.sh installs them)")
        self.voice = voice
        self.is_hts = voice in HTS_VOICES
        self._tmp = tempfile.TemporaryDirectory(prefix="asrser-festival-")
        self._stem = Path(self._tmp.name) / "utt"
        self._stderr = open(Path(self._tmp.name) / "stderr", "w+b")
        # stdbuf: Festival's stdout is block-buffered on a pipe, and each reply is a line the caller waits for
        self._proc = subprocess.Popen(["stdbuf", "-oL", "festival", "--pipe"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, cwd=self._tmp.name)
        self._send(f"(voice_{voice})\n{_SCHEME_HELPERS}\n")
        self._default_stretch = float(self._query("(Parameter.get 'Duration_Stretch)"))
        # the voice's own intonation parameters (target/model F0 mean and std): Festival's linear-regression
        # F0 model maps its model F0 onto the target; the HTS engine's parameters (its model file)
        self._lr_params = {key: float(value) for key, value in
                           re.findall(r"\((\w+_f0_\w+) ([-\d.]+)\)", self._query("int_lr_params"))}
        self._hts_params = self._query("hts_engine_params") if self.is_hts else ""
        self.utterances = 0

    # -- the process --------------------------------------------------------------------------------------

    def _send(self, scheme: str) -> None:
        try:
            self._proc.stdin.write(scheme.encode("latin-1"))
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._died("taking a request")

    def _query(self, expression: str) -> str:
        """The value of a Scheme expression, as Festival prints it."""
        self._send(f'(unwind-protect (format t "{_MARK} ok %l\\n" {expression}) (format t "{_MARK} error\\n"))\n')
        reply = self._reply("starting")
        if not reply.startswith("ok "):
            raise AsrserError(f"Festival voice {self.voice} did not start: {expression} "
                              f"failed{self._stderr_tail()}")
        return reply[3:]

    def _reply(self, doing: str) -> str:
        while True:
            line = self._proc.stdout.readline()
            if not line:
                self._died(doing)
            text = line.decode("utf-8", errors="replace").strip()
            if text.startswith(_MARK + " "):
                return text[len(_MARK) + 1:]

    def _died(self, doing: str):
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        code = self._proc.returncode
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        raise AsrserError(f"Festival (voice {self.voice}) died with {how} while {doing}{self._stderr_tail()}")

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [ln for ln in self._stderr.read().decode("utf-8", errors="replace").splitlines() if ln.strip()]
        return f": {lines[-1].strip()}" if lines else ""

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()
        self._tmp.cleanup()

    def __enter__(self) -> "FestivalSynthesizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- synthesis ----------------------------------------------------------------------------------------

    def _settings(self, duration_stretch: float, f0_mean: float | None, f0_std: float | None) -> str:
        """Scheme that sets duration and F0 for the next utterance."""
        if self.is_hts:
            if f0_std is not None:
                raise AsrserError(f"Festival voice {self.voice} (HTS) cannot set the F0 spread (f0_std)")
            semitones = 12 * math.log2(f0_mean / _HTS_F0_MEAN) if f0_mean is not None else 0.0
            # hts_engine's -r is a speaking rate (durations divided by it); -fm shifts F0 in semitones
            return (f"(set! hts_engine_params (append '{self._hts_params} "
                    f"'((\"-r\" {1 / duration_stretch:.6f}) (\"-fm\" {semitones:.6f}))))")
        lr = dict(self._lr_params)
        if f0_mean is not None:
            lr["target_f0_mean"] = f0_mean
        if f0_std is not None:
            lr["target_f0_std"] = f0_std
        params = " ".join(f"({key} {value:.6f})" for key, value in lr.items())
        return (f"(Parameter.set 'Duration_Stretch {self._default_stretch * duration_stretch:.6f}) "
                f"(set! int_lr_params '({params}))")

    def default_f0_mean(self) -> float:
        """The voice's own mean F0 (Hz): what f0_mean=None gives."""
        return _HTS_F0_MEAN if self.is_hts else self._lr_params["target_f0_mean"]

    def synthesize(self, text: str, duration_stretch: float = 1.0, f0_mean: float | None = None,
                   f0_std: float | None = None, vocal_tract: float = 1.0) -> FestivalSynthesis:
        """16 kHz speech of `text` with TIMIT-61 segments.

        duration_stretch multiplies the voice's durations; f0_mean / f0_std (Hz) replace its F0 mean and spread
        (None: the voice's own); vocal_tract > 1 lowers the formants by that factor (a longer vocal tract),
        keeping duration and F0."""
        if not any(c.isalnum() for c in text):   # Festival crashes (SIGSEGV) on an utterance without words
            raise AsrserError(f"Festival (voice {self.voice}) has no words to speak in {text!r:.200}")
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            raise AsrserError(f"Festival reads Latin-1 text only: {text!r:.200}") from None
        values = [duration_stretch, vocal_tract] + [v for v in (f0_mean, f0_std) if v is not None]
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise AsrserError(f"Festival synthesis needs positive duration_stretch, vocal_tract, f0_mean and "
                              f"f0_std (got {duration_stretch}, {vocal_tract}, {f0_mean}, {f0_std})")
        if vocal_tract != 1.0:   # speak faster and higher by the factor; resampling below plays it slower
            f0_mean = (f0_mean if f0_mean is not None else self.default_f0_mean()) * vocal_tract
            if f0_std is None and not self.is_hts:
                f0_std = self._lr_params["target_f0_std"]
            f0_std = f0_std * vocal_tract if f0_std is not None else None
            duration_stretch /= vocal_tract
        wav, segs, words = (self._stem.with_suffix(ext) for ext in (".wav", ".segs", ".words"))
        for path in (wav, segs, words):
            path.unlink(missing_ok=True)
        # one expression whose every outcome prints a marker line: an error anywhere must not leave us waiting
        self._send(f"(unwind-protect (begin {self._settings(duration_stretch, f0_mean, f0_std)} "
                   f"(asrser_speak {_scheme_string(text)} {_scheme_string(str(self._stem))})) "
                   f"(format t \"{_MARK} error\\n\"))\n")
        reply = self._reply(f"speaking {text!r:.200}")
        if reply != "ok" or not all(path.exists() for path in (wav, segs, words)):
            raise AsrserError(f"Festival (voice {self.voice}) failed on {text!r:.200}{self._stderr_tail()}")
        self.utterances += 1
        samples, rate = _read_wave(wav)
        try:
            phones = _read_segments(segs)
            return to_output(silence_uncovered_pauses(samples, rate, phones), rate, phones, _read_words(words),
                             vocal_tract)
        except AsrserError as e:
            raise AsrserError(f"Festival (voice {self.voice}) on {text!r:.200}: {e}") from None


def _read_wave(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise AsrserError(f"{path}: Festival wrote {w.getnchannels()} channels of {8 * w.getsampwidth()} "
                              "bits; expected 16-bit mono")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16), w.getframerate()


def silence_uncovered_pauses(samples: np.ndarray, rate: int, phones: list[tuple[str, float, int]]) -> np.ndarray:
    """The first half of the leading pause and the second half of the final one set to zero. No diphone covers
    them (the first unit starts, the last ends, in the middle of the pause), and Festival's diphone voices now
    and then fill the final half with stale samples, bursts up to full scale that depend on what the process
    synthesised before (one request in a few hundred, measured): zeroed, the audio of a request depends on the
    request alone, whatever the process's history, and so a corpus on how its speakers fell to the workers."""
    out = samples.copy()
    if phones and phones[0][0] == "pau":
        out[:int(round(phones[0][1] / 2 * rate))] = 0
    if len(phones) > 1 and phones[-1][0] == "pau":
        out[int(round((phones[-2][1] + phones[-1][1]) / 2 * rate)):] = 0
    return out


def _read_segments(path: Path) -> list[tuple[str, float, int]]:
    """(radio phone, end time in seconds, syllable stress) per line of asrser_save_segments' file."""
    out = []
    for line in path.read_text(encoding="latin-1").splitlines():
        name, end, stress = line.split()
        out.append((name, float(end), int(stress) if stress.lstrip("-").isdigit() else 0))
    return out


def _read_words(path: Path) -> list[tuple[str, float, float, int]]:
    """(word, start, end in seconds, index of the text token it reads) per word of asrser_save_words' file
    (Festival expands a token into words: "$5" -> five dollars); words without phones of their own (the 's of
    "Bob's", spoken with Bob) are left out."""
    tokens: dict[str, int] = {}
    out = []
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("token "):
            tokens[line.split()[1]] = len(tokens)
            continue
        token, start, end, word = line.split(maxsplit=3)
        if float(end) > float(start):
            out.append((word, float(start), float(end), tokens[token]))
    return out


def to_output(samples: np.ndarray, rate: int, phones: list[tuple[str, float, int]],
              words: list[tuple[str, float, float, int]] = (), vocal_tract: float = 1.0) -> FestivalSynthesis:
    """Festival's wave (at `rate`) and Segment relation -> 16 kHz audio with TIMIT-61 segments. The wave is
    taken as if sampled at rate / vocal_tract (played slower: formants and F0 divided by the factor, durations
    multiplied). Epenthetic silences (epi) the labels place are made silent in the audio, as mini-TIMIT does
    for espeak."""
    ratio = (Fraction(OUTPUT_RATE) * Fraction(vocal_tract).limit_denominator(1000) / rate).limit_denominator(1000)
    samples = resample_int16(samples, ratio.numerator, ratio.denominator)
    scale = OUTPUT_RATE * vocal_tract
    total = len(samples)
    word_samples = [(word, output_sample(start, scale, total), output_sample(end, scale, total))
                    for word, start, end, _ in words]
    segments = radio_to_timit(phones, samples, scale)
    if any(seg.label == "epi" for seg in segments):
        samples = np.round(epenthetic_gaps(samples, segments, 0)).astype(np.int16)
    return FestivalSynthesis(samples, segments, word_samples, [token for *_, token in words])


def radio_to_timit(phones: list[tuple[str, float, int]], samples: np.ndarray, scale: float = OUTPUT_RATE
                   ) -> list[Segment]:
    """TIMIT-61 segments, contiguous from 0 to len(samples), from Festival's (phone, end seconds, stress);
    `scale` turns Festival's seconds into output samples."""
    total = len(samples)
    segs: list[Segment] = []
    start = 0
    for name, end_s, stress in phones:
        if name not in RADIO_TO_TIMIT:
            raise AsrserError(f"Festival phone {name!r} has no TIMIT mapping")
        end = output_sample(end_s, scale, total)
        if end <= start:
            continue
        label = RADIO_TO_TIMIT[name]
        if stress == 0 and label in _UNSTRESSED:
            label = _UNSTRESSED[label]
        if segs and label == segs[-1].label == "pau":
            segs[-1].end = end
        else:
            segs.append(Segment(label, start, end))
        start = end
    if not segs or all(s.label == "pau" for s in segs):
        raise AsrserError("Festival produced no phones")
    # leading and trailing pauses are the utterance's silence (h#); the last runs to the end of the audio
    for i in (0, -1):
        if segs[i].label == "pau":
            segs[i].label = "h#"
    if segs[0].label != "h#":
        segs.insert(0, Segment("h#", 0, 0))
    if segs[-1].label != "h#":
        segs.append(Segment("h#", segs[-1].end, total))
    segs[-1].end = total
    segs = [s for s in segs if s.end > s.start]
    return _context_rules(_split_stops(segs, samples))


def _split_stops(segs: list[Segment], samples: np.ndarray) -> list[Segment]:
    """Each stop / affricate -> closure + release, cut at the burst (else 60% into the segment)."""
    out: list[Segment] = []
    for seg in segs:
        if seg.label not in _CLOSURE:
            out.append(seg)
            continue
        rise = _energy_rise(samples[seg.start:seg.end])
        cut = seg.start + (rise if rise is not None else int(0.6 * (seg.end - seg.start)))
        if seg.start < cut < seg.end:
            out += [Segment(_CLOSURE[seg.label], seg.start, cut), Segment(seg.label, cut, seg.end)]
        else:
            out.append(seg)
    return out
