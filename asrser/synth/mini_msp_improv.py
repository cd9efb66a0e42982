"""mini-MSP-IMPROV: a license-free acted-emotion corpus synthesised with espeak-ng, in the MSP-IMPROV layout.

    MSP-IMPROV/Evaluation.txt                                                      labels as the real file
    MSP-IMPROV/session{1..6}/S<nn><E>/<P|R|S|T>/MSP-IMPROV-S<nn><E>-<spk>-<P|R|S|T>-<dyad><kk>.wav
                                                                                   16 kHz mono 16-bit PCM

Six sessions, each a woman and a man (F01/M01 ... F06/M06). As in the real corpus, a session is built around
20 target sentences (S01..S20) that carry no emotion in their words; each scenario S<nn><E> asks for one of
four target emotions E (A angry, H happy, S sad, N neutral) on sentence nn, led by one of the two actors. Its
recordings are: R, the lead reading the target sentence; S, the lead saying it inside an improvised scene;
T, the other turns of that improvisation (both actors); P, the natural interaction around the scene. The
dyad field names the lead first (FM: the woman leads) and kk counts the speaker's files in that folder.

The label (Evaluation.txt: `UTD-IMPROV-<name>.avi; <A|H|S|N|O|X>; A:..; V:..; D:.. ; N:..;`, then one line
per rater) is what the raters perceived, not the target: read and improvised target sentences mostly show the
target, the other improvised turns less often, the natural interaction is mostly neutral or happy; O is a
plurality for "Other", X no plurality. So the classes are unbalanced as in the real corpus (neutral and happy
large, angry and sad small).

What differs from mini-IEMOCAP, as the real corpora differ: other voices (espeak's Klatt voice sources, a
variant per speaker, instead of the formant voices; other vocal tracts and neutral prosody), other words (the
target sentences, repeated in every emotion), other emotion statistics (MSP_PROFILES: anger mostly loud and
bright rather than high, happiness mostly fast, sadness mostly slow with pauses; the intensity depends on the
recording kind), and another channel: a sound booth (short reverberation), a band-limited microphone, mains
hum and white noise instead of pink. eGeMAPS + linear SVM, leave one session out, scores about 60%
unweighted accuracy on the default size (SPREAD); a model trained on one corpus is meant to lose accuracy on
the other.

Same size and seed give a byte-identical corpus, whatever the number of jobs (synth.emotional).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AsrserError
from ..fileio import atomic_write, check_generated_dir
from .dialog_grammar import turn as grammar_turn
from .emotional import (Profile, Rendition, Speaker, at_level, limit, rendition, reverberate, speaker_voices,
                        synthesize_turns, tilted, wav_num_samples)
from .espeak import OUTPUT_RATE, Voice

log = logging.getLogger(__name__)

ROOT_NAME = "MSP-IMPROV"
LABEL_FILE = "Evaluation.txt"
SESSIONS = (1, 2, 3, 4, 5, 6)
TARGET_EMOTIONS = ("A", "H", "S", "N")
CODES = ("A", "H", "S", "N", "O", "X")
RECORDINGS = ("P", "R", "S", "T")

# Target sentences written for this corpus: short, and plausible in any of the four emotions.
TARGET_SENTENCES = (
    "I did not expect that from you.", "We are leaving in the morning.", "That is what she told me.",
    "You can keep the rest of it.", "The car is still in the garage.", "He called again last night.",
    "I will be home before dinner.", "They moved the meeting to Friday.", "You have to see this for yourself.",
    "It was right here on the table.", "Nobody asked me about the plan.", "We got the letter this afternoon.",
    "I have been waiting here all day.", "She is coming with us after all.", "That was the last one they had.",
    "You knew about it the whole time.", "I think we should take the train.", "The house looks different now.",
    "He gave the money back to them.", "Let us talk about it tomorrow.",
)
# Scenarios per session: the sentences (per session, rotating through the 20) times the four target emotions;
# improvised turns (T) and natural-interaction turns (P) per scenario.
SIZES = {
    "tiny": dict(sentences=1, other_turns=(1, 1), natural_turns=(1, 1)),
    "default": dict(sentences=4, other_turns=(3, 7), natural_turns=(2, 5)),
    # MSP-IMPROV's size: all 20 sentences in every session, and as many improvised (T, real 4,381) and natural
    # (P, real 2,785) turns per scenario as the real corpus: about 8,400 recordings (real 8,438)
    "full": dict(sentences=20, other_turns=(6, 13), natural_turns=(4, 8)),
}

# What the raters perceive: the label's distribution per recording kind, given the scenario's target.
# "target" is replaced by the target emotion (probabilities of equal codes add up).
PERCEIVED = {
    "R": {"target": 0.60, "N": 0.30, "O": 0.05, "X": 0.05},
    "S": {"target": 0.70, "N": 0.20, "O": 0.05, "X": 0.05},
    "T": {"target": 0.45, "N": 0.30, "H": 0.10, "O": 0.08, "X": 0.07},
    "P": {"N": 0.55, "H": 0.30, "O": 0.10, "X": 0.05},
}
# How strongly a recording kind expresses its label (intensity range): reading is the most restrained.
INTENSITY = {"R": (0.3, 0.9), "S": (0.5, 1.0), "T": (0.4, 1.0), "P": (0.3, 0.9)}
NATURALNESS = {"R": 2.8, "S": 3.6, "T": 3.8, "P": 4.3}
# This corpus's own expression statistics (compare mini_iemocap.PROFILES).
MSP_PROFILES = {
    "N": Profile(0, 50, 0.00, 0, 0.00, 0, "modal", 3.0, 2.5, 2.9),
    "A": Profile(5, 70, 0.08, 9, 0.55, 0, "tense", 1.7, 4.0, 4.1),
    "H": Profile(12, 85, 0.15, 2, 0.10, 0, "bright", 4.1, 3.4, 3.2),
    "S": Profile(-8, 25, -0.32, -4, -0.35, 4, "breathy", 1.9, 1.9, 2.2),
    "O": Profile(2, 58, 0.02, 1, 0.05, 1, "modal", 2.9, 2.9, 2.9),
}
RATER_NAMES = {"A": "Angry", "H": "Happy", "S": "Sad", "N": "Neutral", "O": "Other"}
_SECONDARY = {"A": ("Frustrated", "Annoyed", "Disgusted"), "H": ("Excited", "Amused", "Surprised"),
              "S": ("Disappointed", "Tired", "Depressed"), "N": ("Calm", "Concerned", "Bored"),
              "O": ("Surprised", "Fearful", "Confused")}
_CONFUSABLE = {"A": "NO", "H": "NO", "S": "NO", "N": "HSO", "O": "NAH"}
KLATT_VOICES = (2, 3, 4, 5, 6)     # espeak's Klatt voice sources (mini-IEMOCAP uses the formant voices)
VOLUME = 60                        # espeak output volume: the Klatt sources clip at 100
# Per-turn jitter, as mini_iemocap.SPREAD. eGeMAPS + linear SVM, leave one session out, default size, seed 0:
# UA 60.1% (WA 58.6%) at 1.0. (With profiles about two thirds as strong, 1.2 gave 46% and 0.8 48%: the
# strength of the profiles and the intensities matter more than the jitter.)
SPREAD = 1.0


@dataclass(frozen=True)
class Channel:
    """A session's sound booth and microphone chain."""

    rt60: float           # reverberation time, seconds
    drr_db: float         # direct-to-reverberant energy ratio
    highpass_hz: float    # microphone/preamp low cut
    lowpass_hz: float     # the microphone's upper band edge
    mic_tilt: float       # first-order pre-emphasis coefficient
    level_dbfs: float     # RMS level of neutral speech
    hum_dbfs: float       # mains hum (60 Hz and harmonics)
    noise_dbfs: float     # white noise floor


def make_channels(seed: int) -> dict[int, Channel]:
    rng = np.random.default_rng([seed, 14])
    return {s: Channel(rt60=float(rng.uniform(0.08, 0.2)), drr_db=float(rng.uniform(10, 18)),
                       highpass_hz=float(rng.uniform(100, 200)), lowpass_hz=float(rng.uniform(5000, 7000)),
                       mic_tilt=float(rng.uniform(-0.5, 0.1)), level_dbfs=float(rng.uniform(-24, -16)),
                       hum_dbfs=float(rng.uniform(-62, -50)), noise_dbfs=float(rng.uniform(-66, -54)))
            for s in SESSIONS}


def make_speakers(seed: int) -> list[Speaker]:
    rng = np.random.default_rng([seed, 11])
    speakers = []
    for session in SESSIONS:
        for sex in "FM":
            sid = f"{sex}{session:02d}"
            klatt = int(rng.choice(KLATT_VOICES))
            voices = speaker_voices(sid, sex, rng, prefix="mp", synthesis=(f"klatt {klatt}",))
            speakers.append(Speaker(sid, session, sex, voices, pitch=int(rng.integers(32, 66)),
                                    pitch_range=int(rng.integers(35, 65)), rate=int(rng.integers(140, 195)),
                                    expressiveness=float(rng.uniform(0.7, 1.3))))
    return speakers


def session_sentences(session: int, count: int) -> list[int]:
    """The sentence numbers (1-20) of a session: `count` of them, each session starting further on."""
    return [((session - 1) * count + j) % len(TARGET_SENTENCES) + 1 for j in range(count)]


# -- the plan ---------------------------------------------------------------------------------------------

@dataclass
class Turn:
    name: str                     # MSP-IMPROV-S01A-F01-R-FM01, the wav's stem
    session: int
    scenario: str                 # S01A
    recording: str                # P R S T
    speaker: Speaker
    text: str
    label: str                    # A H S N O X
    rendition: Rendition
    ratings: list[str]            # rater lines
    dimensions: tuple[float, float, float, float]   # mean arousal, valence, dominance, naturalness
    channel: Channel
    seed: int
    path: str

    @property
    def wav(self) -> Path:
        return Path(self.path)

    def label_block(self) -> str:
        a, v, d, n = self.dimensions
        head = f"UTD-{self.name[len('MSP-'):]}.avi; {self.label}; A:{a:.6f}; V:{v:.6f}; D:{d:.6f} ; N:{n:.6f};"
        return "\n".join([head, *self.ratings]) + "\n"


def _perceived(recording: str, target: str, rng: np.random.Generator) -> str:
    table: dict[str, float] = {}
    for code, p in PERCEIVED[recording].items():
        code = target if code == "target" else code
        table[code] = table.get(code, 0.0) + p
    codes = sorted(table)
    return str(rng.choice(codes, p=np.array([table[c] for c in codes]) / sum(table.values())))


def _ratings(label: str, recording: str, rng: np.random.Generator) -> tuple[list[str], tuple]:
    """Rater lines whose plurality is the label (X: a tie, no plurality), and the mean dimensions."""
    n = int(rng.integers(5, 8))
    if label == "X":
        first, second = rng.choice(list(RATER_NAMES), 2, replace=False)
        k = n // 2 if n % 2 == 0 else (n - 1) // 2
        votes = [str(first)] * k + [str(second)] * k
        votes += [str(rng.choice([c for c in RATER_NAMES if c not in (first, second)]))] * (n - 2 * k)
    else:
        top = n // 2 + 1
        votes = [label] * top + [str(rng.choice(list(_CONFUSABLE[label]))) for _ in range(n - top)]
    rng.shuffle(votes)
    raters = sorted(rng.choice(9000, n, replace=False) + 1000)
    lines, dims = [], []
    for rater, vote in zip(raters, votes):
        p = MSP_PROFILES[vote]
        a, v, d = (int(np.clip(round(x + rng.normal(0, 0.7)), 1, 5)) for x in (p.activation, p.valence, p.dominance))
        nat = int(np.clip(round(NATURALNESS[recording] + rng.normal(0, 0.8)), 1, 5))
        extra = ",".join(rng.choice(_SECONDARY[vote], int(rng.integers(0, 3)), replace=False))
        lines.append(f"R{rater}; {RATER_NAMES[vote]}; {extra}; A:{a:.6f}; V:{v:.6f}; D:{d:.6f}; N:{nat:.6f};")
        dims.append((a, v, d, nat))
    return lines, tuple(float(x) for x in np.mean(dims, axis=0))


def _file_stems(recordings: list[tuple[str, str]], scenario: str, dyad: str, session: int) -> list[str]:
    """The file stem of each (recording, speaker sex) of a scenario, numbered per speaker and folder."""
    counters: dict[tuple[str, str], int] = {}
    stems = []
    for recording, sex in recordings:
        k = counters[recording, sex] = counters.get((recording, sex), 0) + 1
        stems.append(f"MSP-IMPROV-{scenario}-{sex}{session:02d}-{recording}-{dyad}{k:02d}")
    return stems


def plan_corpus(out_dir: str | os.PathLike, size: str = "default", seed: int = 0,
                spread: float = SPREAD) -> list[Turn]:
    """Every turn with all of its random choices; nothing is synthesised here."""
    if size not in SIZES:
        raise AsrserError(f"unknown mini-MSP-IMPROV size {size!r} ({', '.join(SIZES)})")
    spec = SIZES[size]
    speakers = {s.id: s for s in make_speakers(seed)}
    channels = make_channels(seed)
    root = Path(out_dir) / ROOT_NAME
    turns: list[Turn] = []
    for session in SESSIONS:
        session_dir = root / f"session{session}"
        for j, sentence in enumerate(session_sentences(session, spec["sentences"])):
            for e, target in enumerate(TARGET_EMOTIONS):
                scenario = f"S{sentence:02d}{target}"
                rng = np.random.default_rng([seed, 5, session, sentence, e])
                lead = "FM"[(j + e + session) % 2]
                other = "M" if lead == "F" else "F"
                who = str(rng.choice(["F", "M"]))
                recordings = []
                for _ in range(int(rng.integers(spec["natural_turns"][0], spec["natural_turns"][1] + 1))):
                    recordings.append(("P", who))
                    who = "M" if who == "F" else "F"
                scene = [("T", other if t % 2 == 0 else lead)
                         for t in range(int(rng.integers(spec["other_turns"][0], spec["other_turns"][1] + 1)))]
                scene.insert(int(rng.integers(0, len(scene) + 1)), ("S", lead))
                recordings += scene + [("R", lead)]
                texts = [TARGET_SENTENCES[sentence - 1] if rec in "RS" else grammar_turn(rng) for rec, _ in recordings]
                stems = _file_stems(recordings, scenario, lead + other, session)
                for t, ((recording, sex), stem, text) in enumerate(zip(recordings, stems, texts)):
                    rng = np.random.default_rng([seed, 7, session, sentence, e, t])
                    spk = speakers[f"{sex}{session:02d}"]
                    label = _perceived(recording, target, rng)
                    if label == "X":      # no plurality: some profile, weakly expressed
                        profile = MSP_PROFILES[str(rng.choice(list(MSP_PROFILES)))]
                        intensity = rng.uniform(0.1, 0.5)
                    else:
                        profile = MSP_PROFILES[label]
                        intensity = rng.uniform(*INTENSITY[recording])
                    ratings, dims = _ratings(label, recording, rng)
                    turns.append(Turn(stem, session, scenario, recording, spk, text, label,
                                      rendition(spk, profile, intensity, rng, spread, volume=VOLUME), ratings,
                                      dims, channels[session], seed=int(rng.integers(0, 2 ** 62)),
                                      path=str(session_dir / scenario / recording / f"{stem}.wav")))
    return turns


# -- synthesis and writing --------------------------------------------------------------------------------

def _hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """60 Hz mains hum with its odd harmonics, random phases."""
    t = np.arange(n) / OUTPUT_RATE
    phases = rng.uniform(0, 2 * np.pi, 4)
    return sum(np.sin(2 * np.pi * 60 * h * t + p) / h for h, p in zip((1, 3, 5, 7), phases))


def render(speech: np.ndarray, turn: Turn, rng: np.random.Generator) -> np.ndarray:
    """The turn's emotion-dependent tilt and loudness, then its session's booth and microphone chain."""
    from scipy.signal import butter, lfilter, sosfilt

    r, ch = turn.rendition, turn.channel
    x = tilted(speech.astype(np.float64), r.tilt)
    lead = int(rng.integers(int(0.1 * OUTPUT_RATE), int(0.4 * OUTPUT_RATE)))
    tail = int(rng.integers(int(0.1 * OUTPUT_RATE), int(0.4 * OUTPUT_RATE)))
    x = at_level(x, ch.level_dbfs + r.gain_db + rng.normal(0, 1.0))
    audio = np.concatenate([np.zeros(lead), x, np.zeros(tail)])
    audio = reverberate(audio, ch.rt60, ch.drr_db, rng)
    band = butter(2, ch.highpass_hz, "highpass", fs=OUTPUT_RATE, output="sos")
    top = butter(4, ch.lowpass_hz, "lowpass", fs=OUTPUT_RATE, output="sos")
    audio = lfilter([1.0, -ch.mic_tilt], [1.0], sosfilt(top, sosfilt(band, audio)))
    audio += at_level(_hum(len(audio), rng), ch.hum_dbfs + rng.normal(0, 1.0))
    audio += at_level(rng.normal(size=len(audio)), ch.noise_dbfs + rng.normal(0, 1.5))
    return limit(audio)


def all_voices(turns: list[Turn]) -> list[Voice]:
    voices = {v.name: v for t in turns for v in t.speaker.voices.values()}
    return [voices[k] for k in sorted(voices)]


def write_evaluation(turns: list[Turn], root: Path) -> None:
    """Evaluation.txt: one block per recording (sorted by name), blank-line separated, as the real file."""
    with atomic_write(root / LABEL_FILE) as f:
        for turn in sorted(turns, key=lambda t: t.name):
            f.write(turn.label_block() + "\n")


def generate(out_dir: str | os.PathLike, size: str = "default", seed: int = 0, nj: int = 1,
             progress: bool = True, spread: float = SPREAD) -> int:
    """Write the corpus under <out_dir>/MSP-IMPROV; returns the number of recordings.

    Finished wav files are kept (a killed run resumes); Evaluation.txt is rewritten."""
    check_generated_dir(out_dir, "mini-MSP-IMPROV", size=size, seed=seed, spread=spread)
    turns = plan_corpus(out_dir, size, seed, spread)
    todo = [t for t in turns if not t.wav.exists()]
    synthesize_turns(todo, all_voices(turns), render, nj, f"mini-MSP-IMPROV ({size})", progress)
    root = Path(out_dir) / ROOT_NAME
    write_evaluation(turns, root)
    minutes = sum(wav_num_samples(t.wav) for t in turns) / OUTPUT_RATE / 60
    log.info("mini-MSP-IMPROV %s (seed %d): %d recordings (%d new) of %d speakers, %.1f min of audio, in %s", size,
             seed, len(turns), len(todo), len({t.speaker.id for t in turns}), minutes, root)
    return len(turns)


__all__ = ["generate", "plan_corpus", "make_speakers", "MSP_PROFILES", "TARGET_SENTENCES", "SIZES", "SPREAD",
           "ROOT_NAME", "LABEL_FILE", "CODES"]
