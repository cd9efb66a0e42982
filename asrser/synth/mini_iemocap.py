"""mini-IEMOCAP: a license-free emotional dialogue corpus synthesised with espeak-ng, in the IEMOCAP layout.

    IEMOCAP_full_release/Session{1..5}/sentences/wav/<dialog>/<turn>.wav      16 kHz mono 16-bit PCM
    IEMOCAP_full_release/Session{1..5}/dialog/EmoEvaluation/<dialog>.txt      labels as the real files
    IEMOCAP_full_release/Session{1..5}/dialog/transcriptions/<dialog>.txt     `TURN [start-end]: text`

Five sessions, each a woman and a man (10 speakers, distinct espeak voice variants) who both talk in every
dialog of their session. Dialogs are improvisations (`Ses01F_impro01`) and scripted scenes
(`Ses01M_script01_1`, the same script text in every session, as in the real corpus); the letter after the
session number is the speaker the real corpus put markers on. Turns are named after their speaker
(`Ses01F_impro01_M003` is the man's fourth turn).

Emotion lives in the voice, never in the words: each label has a prosodic and voice-quality profile (pitch
level and range, speaking rate, pauses, loudness, spectral tilt; tense, bright or breathy phonation) that a
turn shows with a random intensity, scaled by how expressive the actor is, plus per-turn jitter that makes
the classes overlap (and sometimes borrows another class's voice quality). Labels are the 4-class set's
neu, ang, hap, exc, sad and the distractors fru, sur, fea, dis, oth and xxx (no majority among the
evaluators, spoken with a random other profile at low intensity) that 4-class preparation drops.
Each session has its own room (reverberation, microphone tilt, noise floor, level); the turn's loudness
varies with its emotion on top of that. The spread (SPREAD) is set so that an eGeMAPS + linear SVM baseline,
leave-one-speaker-out, scores about 60% unweighted accuracy on the default size (asrser.ser.baseline).

Same size and seed give a byte-identical corpus, whatever the number of jobs: every turn's parameters are
drawn in the plan, and each turn is synthesised in a child forked from a pristine synthesiser.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AsrserError
from ..fileio import atomic_write, check_generated_dir
from .dialog_grammar import turn as grammar_turn
from .emotional import (Profile, Rendition, Speaker, at_level, limit, pink, quotas, rendition,
                        reverberate, speaker_voices, synthesize_turns, tilted, wav_bytes, wav_num_samples)
from .espeak import OUTPUT_RATE, Voice

log = logging.getLogger(__name__)

ROOT_NAME = "IEMOCAP_full_release"
SESSIONS = (1, 2, 3, 4, 5)
# Dialogs per session: (improvisation numbers, (script, part) pairs, turns per dialog). Each is recorded
# twice per session, once under the woman's and once under the man's name, as in the real corpus.
SIZES = {
    "tiny": dict(impro=(1,), script=(), turns=8),
    "default": dict(impro=(1, 2, 3), script=((1, 1), (2, 1)), turns=26),
    # IEMOCAP's size: 8 improvisations and 8 script parts per session, each recorded twice (about 30 dialogs a
    # session, as the real 151), 63 turns a dialog: 10,080 turns (the real corpus has 10,039), labelled with the
    # real corpus's shares (FULL_LABEL_SHARES), so about 5,550 of them fall in the four classes (real: 5,531)
    "full": dict(impro=(1, 2, 3, 4, 5, 6, 7, 8),
                 script=((1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3), (3, 1), (3, 2)), turns=63,
                 label_shares="real"),
}
# Tiny has two dialogs per session, Ses0kF_impro01 and Ses0kM_script01_1, so that both dialog kinds and both
# name letters occur.
TINY_SCRIPT = (1, 1)

# Share of each label among all turns (the 4-class codes are 78%; the real corpus has 55% but many more turns).
LABEL_SHARES = {"neu": 0.24, "hap": 0.08, "exc": 0.14, "ang": 0.16, "sad": 0.16,
                "fru": 0.08, "sur": 0.03, "fea": 0.02, "dis": 0.01, "oth": 0.01, "xxx": 0.07}
# The real corpus's shares (majority labels of its 10,039 turns; 55% in the four classes), for the full size.
FULL_LABEL_SHARES = {"neu": 1708, "hap": 595, "exc": 1041, "ang": 1103, "sad": 1084, "fru": 1849, "sur": 107,
                     "fea": 40, "dis": 2, "oth": 3, "xxx": 2507}
FULL_LABEL_SHARES = {k: n / sum(FULL_LABEL_SHARES.values()) for k, n in FULL_LABEL_SHARES.items()}
CATEGORY_NAMES = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "sad": "Sadness", "ang": "Anger",
                  "fru": "Frustration", "sur": "Surprise", "fea": "Fear", "dis": "Disgust", "oth": "Other"}
# Per-turn jitter (0 would make the classes nearly separable). eGeMAPS + linear SVM UA, default size, seed 0:
# 0.75 -> 77%, 1.0 -> 71%, 1.25 -> 63%, 1.4 -> 59%, 1.5 -> 57%; at 1.4 seeds 1 and 2 give 62% and 58%.
SPREAD = 1.4


PROFILES = {
    "neu": Profile(0, 50, 0.00, 0, 0.00, 0, "modal", 3.0, 2.2, 2.8),
    "ang": Profile(6, 72, 0.10, 5, 0.35, 0, "tense", 1.6, 4.2, 4.2),
    "hap": Profile(12, 85, 0.06, 2, 0.15, 0, "bright", 4.0, 3.1, 3.1),
    "exc": Profile(14, 90, 0.12, 4, 0.25, 0, "bright", 4.2, 3.9, 3.5),
    "sad": Profile(-8, 25, -0.18, -4, -0.35, 2, "breathy", 1.8, 1.8, 2.1),
    "fru": Profile(3, 62, 0.05, 3, 0.20, 0, "tense", 2.0, 3.3, 3.3),
    "sur": Profile(16, 95, 0.00, 3, 0.10, 0, "bright", 3.4, 3.8, 2.9),
    "fea": Profile(10, 65, 0.12, -1, -0.10, 0, "breathy", 1.9, 3.5, 1.9),
    "dis": Profile(-4, 40, -0.10, 1, 0.10, 1, "tense", 1.8, 2.8, 3.6),
    "oth": Profile(0, 55, 0.00, 0, 0.00, 0, "modal", 2.8, 2.7, 2.8),
}
# Who the evaluators confuse a label with (the third evaluator's choice, and the mix for xxx)
_CONFUSABLE = {"neu": ("fru", "sad", "exc", "oth"), "ang": ("fru", "dis"), "hap": ("exc", "neu", "sur"),
               "exc": ("hap", "sur", "neu"), "sad": ("neu", "fru", "fea"), "fru": ("ang", "neu", "sad"),
               "sur": ("exc", "hap", "fea"), "fea": ("sad", "sur", "fru"), "dis": ("fru", "ang"),
               "oth": ("neu", "fru")}
_SHADES = {"neu": ("", "", "calm"), "ang": ("", "irritated", "annoyed"), "hap": ("", "amused", "cheerful"),
           "exc": ("", "enthusiastic", "eager"), "sad": ("", "disappointed", "tired"),
           "fru": ("", "impatient"), "sur": ("", "amazed"), "fea": ("", "anxious"), "dis": ("",),
           "oth": ("", "dismissive", "sarcastic")}


# -- speakers and rooms -----------------------------------------------------------------------------------

def make_speakers(seed: int) -> list[Speaker]:
    rng = np.random.default_rng([seed, 1])
    speakers = []
    for session in SESSIONS:
        for sex in "FM":
            sid = f"Ses{session:02d}{sex}"
            voices = speaker_voices(sid, sex, rng, prefix="mi")
            speakers.append(Speaker(sid, session, sex, voices, pitch=int(rng.integers(38, 62)),
                                    pitch_range=int(rng.integers(38, 62)), rate=int(rng.integers(150, 185)),
                                    expressiveness=float(rng.uniform(0.75, 1.25))))
    return speakers


@dataclass(frozen=True)
class Room:
    rt60: float           # reverberation time, seconds
    drr_db: float         # direct-to-reverberant energy ratio
    mic_tilt: float       # microphone/preamp spectral tilt (first-order pre-emphasis coefficient)
    level_dbfs: float     # RMS level of neutral speech
    noise_dbfs: float     # RMS level of the (pink) noise floor


def make_rooms(seed: int) -> dict[int, Room]:
    rng = np.random.default_rng([seed, 4])
    return {s: Room(rt60=float(rng.uniform(0.15, 0.45)), drr_db=float(rng.uniform(2, 12)),
                    mic_tilt=float(rng.uniform(-0.3, 0.6)), level_dbfs=float(rng.uniform(-30, -22)),
                    noise_dbfs=float(rng.uniform(-58, -45)))
            for s in SESSIONS}


# -- the plan ---------------------------------------------------------------------------------------------

@dataclass
class Turn:
    name: str                     # Ses01F_impro01_M003
    dialog: str
    session: int
    speaker: Speaker
    text: str
    label: str
    rendition: Rendition
    evaluation: list[str]         # evaluator lines (C-E1:..., A-E1:...)
    vad: tuple[float, float, float]
    gap: float                    # seconds of silence (or overlap, when negative) before the turn
    room: Room
    seed: int
    path: str = ""
    num_samples: int = 0

    @property
    def wav(self) -> Path:
        return Path(self.path)


@dataclass
class Dialog:
    name: str
    session: int
    start: float                  # dialog time of the first turn
    turns: list[Turn] = field(default_factory=list)
    extra: list[tuple[int, str]] = field(default_factory=list)   # unlabelled transcript lines: (after turn, text)


def _rendition(spk: Speaker, label: str, rng: np.random.Generator, spread: float) -> Rendition:
    if label == "xxx":   # no agreement: some other profile, weakly expressed
        profile = PROFILES[str(rng.choice(list(PROFILES)))]
        intensity = rng.uniform(0.1, 0.6)
    else:
        profile = PROFILES[label]
        intensity = rng.uniform(0.3, 1.0)
    return rendition(spk, profile, intensity, rng, spread)


def _evaluation(label: str, speaker_sex: str, rng: np.random.Generator) -> tuple[list[str], tuple]:
    """Evaluator lines as in the real files, consistent with the label (majority vote; xxx: no majority)."""
    evaluators = sorted(rng.choice([1, 2, 3, 4, 5, 6], 3, replace=False))
    if label == "xxx":
        first = str(rng.choice(list(CATEGORY_NAMES)))
        second = str(rng.choice([c for c in _CONFUSABLE[first] if c != first]))
        third = str(rng.choice([c for c in CATEGORY_NAMES if c not in (first, second)]))
        votes = [first, second, third]
        base = PROFILES[first]
    else:
        odd = label if rng.random() < 0.5 else str(rng.choice(_CONFUSABLE[label]))
        votes = [label, label, odd]
        base = PROFILES[label]
    rng.shuffle(votes)
    lines = []
    for e, vote in zip(evaluators, votes):
        cats = CATEGORY_NAMES[vote] + ";"
        if rng.random() < 0.1:   # a second category, as evaluators sometimes give
            cats += " " + CATEGORY_NAMES[str(rng.choice(_CONFUSABLE[vote]))] + ";"
        lines.append(f"C-E{e}:\t{cats}\t({rng.choice(_SHADES[vote])})")
    self_eval = rng.random() < 0.5
    if self_eval:
        lines.append(f"C-{speaker_sex}1:\t{CATEGORY_NAMES[votes[0]]};\t()")
    ratings = []
    raters = [f"E{e}" for e in evaluators[:2]] + ([f"{speaker_sex}1"] if self_eval else [])
    for r in raters:
        val, act, dom = (int(np.clip(round(x + rng.normal(0, 0.6)), 1, 5))
                         for x in (base.valence, base.activation, base.dominance))
        ratings.append((val, act, dom))
        lines.append(f"A-{r}:\tval {val}; act {act}; dom  {dom};\t()")
    vad = tuple(float(np.mean([r[i] for r in ratings[:2]])) for i in range(3))
    return lines, vad


def plan_corpus(out_dir: str | os.PathLike, size: str = "default", seed: int = 0,
                spread: float = SPREAD) -> list[Dialog]:
    """Every dialog and turn with all of its random choices; nothing is synthesised here."""
    if size not in SIZES:
        raise AsrserError(f"unknown mini-IEMOCAP size {size!r} ({', '.join(SIZES)})")
    spec = SIZES[size]
    speakers = {s.id: s for s in make_speakers(seed)}
    rooms = make_rooms(seed)
    root = Path(out_dir) / ROOT_NAME
    scripts = [(k, m) for k, m in spec["script"]] or [TINY_SCRIPT]
    script_text = {}
    for k, m in scripts:   # one text per script part, spoken in every session
        rng = np.random.default_rng([seed, 3, k, m])
        script_text[(k, m)] = [grammar_turn(rng) for _ in range(spec["turns"])]
    dialogs: list[Dialog] = []
    for session in SESSIONS:
        names = []
        if size == "tiny":
            names = [(f"Ses{session:02d}F_impro01", None), (f"Ses{session:02d}M_script01_1", TINY_SCRIPT)]
        else:
            for marked in "FM":
                names += [(f"Ses{session:02d}{marked}_impro{i:02d}", None) for i in spec["impro"]]
                names += [(f"Ses{session:02d}{marked}_script{k:02d}_{m}", (k, m)) for k, m in spec["script"]]
        session_turns: dict[str, list[tuple[Dialog, int]]] = {"F": [], "M": []}
        for d, (name, script) in enumerate(names):
            rng = np.random.default_rng([seed, 5, session, d])
            dialog = Dialog(name, session, start=float(rng.uniform(2, 8)))
            who = str(rng.choice(["F", "M"]))
            counters = {"F": 0, "M": 0}
            for t in range(spec["turns"]):
                if t and rng.random() < 0.85:
                    who = "M" if who == "F" else "F"
                text = script_text[script][t] if script else grammar_turn(rng)
                spk = speakers[f"Ses{session:02d}{who}"]
                turn_name = f"{name}_{who}{counters[who]:03d}"
                counters[who] += 1
                gap = float(rng.uniform(-0.2, 1.2)) if t else 0.0
                path = root / f"Session{session}" / "sentences" / "wav" / name / f"{turn_name}.wav"
                dialog.turns.append(Turn(turn_name, name, session, spk, text, "", None, [], (0, 0, 0), gap,
                                         rooms[session], seed=0, path=str(path)))
                session_turns[who].append((dialog, t))
            if rng.random() < 0.5:   # an unlabelled bit of talk, as the real transcripts have
                after = int(rng.integers(0, len(dialog.turns)))
                dialog.extra.append((after, str(rng.choice(["[LAUGHTER]", "[BREATHING]", "Mm-hm.",
                                                            "[LAUGHTER] Okay."]))))
            dialogs.append(dialog)
        # labels: each speaker's turns get the shares of LABEL_SHARES, in a random order
        for who, slots in session_turns.items():
            rng = np.random.default_rng([seed, 6, session, "FM".index(who)])
            labels = quotas(FULL_LABEL_SHARES if spec.get("label_shares") == "real" else LABEL_SHARES, len(slots))
            rng.shuffle(labels)
            for (dialog, t), label in zip(slots, labels):
                dialog.turns[t].label = label
    for d_index, dialog in enumerate(dialogs):
        for t, turn in enumerate(dialog.turns):
            rng = np.random.default_rng([seed, 7, dialog.session, d_index, t])
            turn.rendition = _rendition(turn.speaker, turn.label, rng, spread)
            turn.evaluation, turn.vad = _evaluation(turn.label, turn.speaker.sex, rng)
            turn.seed = int(rng.integers(0, 2 ** 62))
    return dialogs


# -- synthesis and writing --------------------------------------------------------------------------------

def render(speech: np.ndarray, turn: Turn, rng: np.random.Generator) -> np.ndarray:
    """The turn's emotion-dependent tilt and loudness, then its session's room and microphone, as int16."""
    from scipy.signal import lfilter

    r, room = turn.rendition, turn.room
    x = tilted(speech.astype(np.float64), r.tilt)
    lead = int(rng.integers(int(0.05 * OUTPUT_RATE), int(0.3 * OUTPUT_RATE)))
    tail = int(rng.integers(int(0.05 * OUTPUT_RATE), int(0.3 * OUTPUT_RATE)))
    x = at_level(x, room.level_dbfs + r.gain_db + rng.normal(0, 1.0))
    audio = np.concatenate([np.zeros(lead), x, np.zeros(tail)])
    audio = lfilter([1.0, -room.mic_tilt], [1.0], audio)
    audio = reverberate(audio, room.rt60, room.drr_db, rng)
    noise = pink(len(audio), rng)
    noise_level = room.noise_dbfs + rng.normal(0, 1.5)
    audio += noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12) * 32768 * 10 ** (noise_level / 20)
    return limit(audio)


def all_voices(dialogs: list[Dialog]) -> list[Voice]:
    voices = {v.name: v for d in dialogs for t in d.turns for v in t.speaker.voices.values()}
    return [voices[k] for k in sorted(voices)]


def _stamp(t: float) -> str:
    return f"{t:08.4f}"


def write_dialog_files(dialog: Dialog, root: Path) -> None:
    """EmoEvaluation and transcription files of one dialog, with turn times laid out from the audio lengths."""
    t = dialog.start
    times = []
    for turn in dialog.turns:
        start = max(0.0, t + turn.gap) if times else t
        end = start + turn.num_samples / OUTPUT_RATE
        times.append((start, end))
        t = end
    session_dir = root / f"Session{dialog.session}" / "dialog"
    with atomic_write(session_dir / "EmoEvaluation" / f"{dialog.name}.txt") as f:
        f.write("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n")
        for turn, (start, end) in zip(dialog.turns, times):
            v, a, d = turn.vad
            f.write(f"[{start:.4f} - {end:.4f}]\t{turn.name}\t{turn.label}\t[{v:.4f}, {a:.4f}, {d:.4f}]\n")
            f.write("\n".join(turn.evaluation) + "\n\n")
    extra = {after: text for after, text in dialog.extra}
    with atomic_write(session_dir / "transcriptions" / f"{dialog.name}.txt") as f:
        xx = {"F": 0, "M": 0}
        for i, (turn, (start, end)) in enumerate(zip(dialog.turns, times)):
            f.write(f"{turn.name} [{_stamp(start)}-{_stamp(end)}]: {turn.text}\n")
            if i in extra:   # e.g. Ses01F_impro01_MXX0: talk the evaluators did not label
                other = "M" if turn.speaker.sex == "F" else "F"
                a = end + 0.05
                f.write(f"{dialog.name}_{other}XX{xx[other]} [{_stamp(a)}-{_stamp(a + 0.6)}]: {extra[i]}\n")
                xx[other] += 1


def generate(out_dir: str | os.PathLike, size: str = "default", seed: int = 0, nj: int = 1,
             progress: bool = True, spread: float = SPREAD) -> int:
    """Write the corpus under <out_dir>/IEMOCAP_full_release; returns the number of turns.

    Finished wav files are kept (a killed run resumes); the label and transcript files are rewritten."""
    check_generated_dir(out_dir, "mini-IEMOCAP", size=size, seed=seed, spread=spread)
    dialogs = plan_corpus(out_dir, size, seed, spread)
    turns = [t for d in dialogs for t in d.turns]
    todo = [t for t in turns if not t.wav.exists()]
    synthesize_turns(todo, all_voices(dialogs), render, nj, f"mini-IEMOCAP ({size})", progress)
    root = Path(out_dir) / ROOT_NAME
    for turn in turns:
        turn.num_samples = wav_num_samples(turn.wav)
    for dialog in dialogs:
        write_dialog_files(dialog, root)
    log.info("mini-IEMOCAP %s (seed %d): %d turns (%d new) in %d dialogs, %.1f min of audio, in %s", size, seed,
             len(turns), len(todo), len(dialogs), sum(t.num_samples for t in turns) / OUTPUT_RATE / 60, root)
    return len(turns)


__all__ = ["generate", "plan_corpus", "make_speakers", "wav_bytes", "PROFILES", "LABEL_SHARES", "FULL_LABEL_SHARES",
           "SIZES", "SPREAD", "ROOT_NAME"]
