"""mini-TIMIT: a license-free corpus synthesised with espeak-ng, in the LDC TIMIT layout.

    TIMIT/{TRAIN,TEST}/DR1..DR8/<SPK>/<UTT>.{WAV,PHN,WRD,TXT}

`.WAV` is NIST SPHERE (1024-byte NIST_1A header, int16 little-endian); `.PHN`/`.WRD` are `start end label` in
samples; `.TXT` is `0 N Text.`. Phone boundaries come from espeak's phoneme events (exact start samples);
espeak mnemonics are mapped to the TIMIT-61 labels with the rules of `espeak_to_timit`. Speakers are distinct
espeak voice variants (formant scaling, pitch, rate, voice quality); each reads the two shared sentences (SA),
five sentences shared with other speakers (SX) and three of their own (SI), as in TIMIT. The TEST side uses the
speaker ids of the standard 24-speaker core test set and the 50-speaker dev set, plus a few others that the
standard splits exclude. Same size and seed give a byte-identical corpus.

In the read condition Festival (festival.py: its US diphone and HTS voices) speaks about a third of the
speakers in place of espeak-ng, through the same recording channel; their labels come from Festival's Segment
relation, mapped and split by the same rules.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..audio import sphere_bytes
from ..corpora.timit import CORE_TEST_SPEAKERS, DEV_SPEAKERS
from ..errors import AsrserError
from ..fileio import atomic_write, check_generated_dir
from ..progress import bar as progress_bar
from .connected_speech import Style, align_words, apply_rules, speaker_style
from .emotional import at_level, pink, reverberate, tilted
from .espeak import OUTPUT_RATE, RAW_RATE, PartitionedSynthesizer, Synthesis, Voice
from .text_grammar import SHARED_SENTENCES, sentence

log = logging.getLogger(__name__)

SIZES = {
    # train speakers, dev speakers used, core-test speakers used, other test speakers, SX sentence pool
    "tiny": dict(train=12, dev=4, core=4, other=1, sx_pool=20),
    "default": dict(train=120, dev=50, core=24, other=4, sx_pool=160),
    # TIMIT's size: 462 training speakers (3,696 SI/SX utterances), each SX text read by about 7 of them as in
    # TIMIT; the test side as default (the standard splits use only the dev and core test speakers)
    "full": dict(train=462, dev=50, core=24, other=4, sx_pool=330),
}
SX_PER_SPEAKER, SI_PER_SPEAKER = 5, 3
# read: speech varied as read speech is (voices, connected speech, recording); clean: the corpus as first made
CONDITIONS = ("read", "clean")
# read: each share is dealt out within each speaker set (train, dev, core test, other test), so that the sets
# are equally hard and no set's difficulty rests on a few speakers
KLATT_SOURCES, KLATT_SHARE = (2, 3, 4), 0.4      # espeak's Klatt voice sources, for this share of speakers
FAR_SHARE = 0.5                                 # speakers far from the microphone in a room; the rest are near
FAR_RT60, FAR_DRR_DB = (0.3, 0.8), (-3.0, 10.0)    # far: the room's RT60 (s) and direct-to-reverberant ratio
NEAR_RT60, NEAR_DRR_DB = (0.1, 0.4), (10.0, 20.0)  # near: a small room heard close up
BAND_SHARE = 0.25                               # speakers heard through a band-limited channel
SNR_DB = (5.0, 25.0)                            # per-utterance SNR range
NOISES = ("pink", "brown", "white", "babble")
RATE_JITTER, PITCH_JITTER = 0.08, 6             # read: per-utterance log-rate and pitch-unit spread

# espeak-ng mnemonic -> TIMIT-61 label(s); stops get their closures from the signal (see _stop_closures)
_DIRECT = {
    "p": "p", "b": "b", "t": "t", "t2": "t", "d": "d", "k": "k", "g": "g", "t#": "dx", "?": "q", "tS": "ch",
    "dZ": "jh", "T": "th", "D": "dh", "S": "sh", "Z": "zh", "h": "hh", "x": "k", "N": "ng", "n-": "en",
    "m-": "em", "l": "l", "l#": "l", "@L": "el", "r": "r", "r-": "r", "j": "y", "f": "f", "v": "v", "s": "s",
    "z": "z", "m": "m", "n": "n", "w": "w", "i:": "iy", "i": "iy", "I": "ih", "I#": "ix", "I2": "ix",
    "E": "eh", "a": "ae", "aa": "ae", "a#": "ax", "A:": "aa", "0": "aa", "A~": "aa", "V": "ah", "O:": "ao",
    "O": "ao", "O2": "ao", "U": "uh", "u:": "uw", "@": "ax", "@-": "ax", "@2": "ax", "@5": "ax", "3": "axr",
    "3:": "er", "eI": "ey", "aI": "ay", "OI": "oy", "aU": "aw", "oU": "ow", "_": "pau", "_:": "pau",
}
_SPLIT = {  # diphthongs with r/schwa offglides: two labels, 55% / 45% of the duration
    "A@": ("aa", "r"), "o@": ("ao", "r"), "O@": ("ao", "r"), "e@": ("eh", "r"), "U@": ("uh", "r"),
    "i@3": ("ih", "r"), "i@": ("iy", "ax"), "aI@": ("ay", "ax"), "aI3": ("ay", "axr"), "aU@": ("aw", "axr"),
}
_IGNORED = {";"}  # espeak's palatalisation marker: no duration of its own
_CLOSURE = {"p": "pcl", "t": "tcl", "k": "kcl", "ch": "tcl", "b": "bcl", "d": "dcl", "g": "gcl", "jh": "dcl"}
_VOICELESS_STOPS = {"p", "t", "k", "ch"}
VOWELS = set("iy ih eh ey ae aa aw ay ah ao oy ow uh uw ux er ax ix axr ax-h el en em".split())
_VOICED = VOWELS | set("b d g jh dh v z zh m n ng l r w y dx nx".split())
_VOICELESS = set("p t k ch f th s sh hh pcl tcl kcl".split())
_CORONAL = set("t d n s z l sh zh ch jh th dh dx".split())
_FRICATIVES = set("s z sh f".split())


@dataclass
class Segment:
    label: str
    start: int
    end: int


def _frame_power(x: np.ndarray, hop: int, floor: float) -> np.ndarray:
    """floor + mean square of each hop of x. The boundary decisions below compare these powers by ratios, never
    through log or exp: +, *, / and comparisons are exactly rounded (IEEE 754) on every machine, while numpy's
    vectorised log differs in the last bit between CPUs, and a near-tie broken by that bit would move a label."""
    n = len(x) // hop
    return floor + (x[:n * hop].astype(np.float64).reshape(n, hop) ** 2).mean(1)


def _energy_rise(x: np.ndarray) -> int | None:
    """Sample index of the largest 2 ms energy jump in x (a stop burst), or None if x is too short."""
    hop = OUTPUT_RATE // 500
    power = _frame_power(x, hop, 1.0)
    n = len(power)
    if n < 4:
        return None
    lo = max(1, int(n * 0.3))
    hi = max(lo + 1, int(n * 0.9))
    k = lo + int(np.argmax(power[lo:hi] / power[lo - 1:hi - 1]))
    return k * hop


def _energy_drop(samples: np.ndarray, around: int, before: int, after: int) -> int | None:
    """Sample index of the steepest 4 ms energy fall within [around - before, around + after] of `samples`."""
    hop = OUTPUT_RATE // 500
    lo, hi = max(around - before, hop), min(around + after, len(samples) - 2 * hop)
    if hi - lo < 4 * hop:
        return None
    power = _frame_power(samples[lo - hop:hi + 2 * hop], hop, 1e-3)
    fall = power[:-2] / power[2:]          # energy 2 ms before over 2 ms after each hop
    return lo + int(np.argmax(fall)) * hop


def _speech_edges(samples: np.ndarray, floor_db: float = 40.0) -> tuple[int, int]:
    """First and last sample whose 4 ms energy is within floor_db of the loudest: where sound starts/ends."""
    hop = OUTPUT_RATE // 250
    power = _frame_power(samples, hop, 1e-3)
    loud = np.flatnonzero(power > power.max() * 10.0 ** (-floor_db / 10))
    if not len(loud):
        return 0, len(samples)
    return int(loud[0]) * hop, min(len(samples), int(loud[-1] + 1) * hop)


def espeak_to_timit(phones: list[tuple[str, int]], samples: np.ndarray, raw: np.ndarray, lead: int,
                    total: int) -> list[Segment]:
    """TIMIT-61 segmentation from espeak phoneme events (starts in 16 kHz samples, before `lead` padding).

    Rules: leading/trailing pauses and padding -> h#; inner pauses -> one pau; p/t/k/ch: the closure is the run
    of exact-zero samples in espeak's 22.05 kHz output before the burst event (else the first 30% of the
    stop); b/d/g/jh: the event starts the closure, the burst is the largest energy rise; h -> hv between a
    voiced sound and a vowel; uw -> ux after a coronal; a short ax between voiceless sounds -> ax-h;
    n between vowels before an unstressed vowel -> nx; a glottal stop (q) starts where espeak's silence
    starts (before its event); a fricative before a nasal or l ends in 15 ms of epi, which
    `epenthetic_gaps` makes silent in the audio."""
    events = [(name, s + lead) for name, s in phones if name not in _IGNORED]
    segs: list[Segment] = []
    for i, (name, start) in enumerate(events):
        end = events[i + 1][1] if i + 1 < len(events) else None
        if end is None:  # the last event runs to the end of the speech
            end = start if name.startswith("_") else lead + len(samples)
        if end <= start:
            continue
        if name in _SPLIT:
            a, b = _SPLIT[name]
            mid = start + int(round(0.55 * (end - start)))
            segs += [Segment(a, start, mid), Segment(b, mid, end)]
        elif name in _DIRECT:
            segs.append(Segment(_DIRECT[name], start, end))
        else:
            raise AsrserError(f"espeak phoneme {name!r} has no TIMIT mapping")
    # espeak ends a clause with two pause events ("_:" and "_"): one pause
    merged: list[Segment] = []
    for seg in segs:
        if merged and seg.label == merged[-1].label == "pau":
            merged[-1].end = seg.end
        else:
            merged.append(seg)
    segs = merged
    # leading and trailing silence -> h#
    while segs and segs[0].label == "pau":
        segs.pop(0)
    while segs and segs[-1].label == "pau":
        segs.pop()
    if not segs:
        raise AsrserError("espeak produced no phones")
    _phones_to_sound_edges(segs, samples, lead, total)
    segs.insert(0, Segment("h#", 0, segs[0].start))
    segs.append(Segment("h#", segs[-1].end, total))
    segs = [s for s in segs if s.end > s.start]
    return _context_rules(_stop_closures(segs, samples, raw, lead))


def _phones_to_sound_edges(phones: list[Segment], samples: np.ndarray, lead: int, total: int) -> None:
    """The first phone starts where sound starts and the last ends where it ends, so that h# is the silence
    around them (synthesisers' labels leave fades outside the phones)."""
    onset, offset = _speech_edges(samples)
    if phones[0].start < lead + onset < phones[0].end:
        phones[0].start = lead + onset
    if phones[-1].start < lead + offset < phones[-1].end or phones[-1].end <= lead + offset < total:
        phones[-1].end = max(phones[-1].start + 1, lead + offset)


def _stop_closures(segs: list[Segment], samples: np.ndarray, raw: np.ndarray, lead: int) -> list[Segment]:
    out: list[Segment] = []
    scale = RAW_RATE / OUTPUT_RATE
    for seg in segs:
        if seg.label == "q":
            _glottal_closure(seg, out[-1] if out else None, raw, lead)
        if seg.label not in _CLOSURE:
            out.append(seg)
            continue
        closure = _CLOSURE[seg.label]
        if seg.label in _VOICELESS_STOPS:
            zero_start = _silence_start(raw, int(round((seg.start - lead) * scale)), lead)
            prev = out[-1] if out else None
            if seg.start - zero_start >= OUTPUT_RATE // 200 and prev is not None and \
                    prev.start < zero_start < seg.start and prev.label != "h#":
                prev.end = zero_start
                out.append(Segment(closure, zero_start, seg.start))
                out.append(seg)
                continue
            cut = seg.start + int(0.3 * (seg.end - seg.start))
        else:
            # voiced stops: the closure starts where the preceding sound's energy falls (espeak's event comes
            # after the fall), the burst is the largest energy rise
            prev = out[-1] if out else None
            if prev is not None and prev.label not in ("h#", "pau"):
                drop = _energy_drop(samples, seg.start - lead, OUTPUT_RATE // 25, OUTPUT_RATE // 100)
                if drop is not None and prev.start + OUTPUT_RATE // 100 < lead + drop < seg.start:
                    prev.end = seg.start = lead + drop
            rise = _energy_rise(samples[seg.start - lead:seg.end - lead])
            cut = seg.start + (rise if rise is not None else int(0.6 * (seg.end - seg.start)))
        if seg.start < cut < seg.end:
            out += [Segment(closure, seg.start, cut), Segment(seg.label, cut, seg.end)]
        else:
            out.append(seg)
    return out


def _silence_start(raw: np.ndarray, end: int, lead: int) -> int:
    """Start (16 kHz samples, after `lead` padding) of the run of exact-zero samples in espeak's 22.05 kHz
    output that ends before raw index `end`; `end` itself if raw[end - 1] is not zero."""
    j = end
    while j > 0:   # back over the zeros a block at a time: runs are long, and a sample at a time is slow
        block = max(0, j - 256)
        nonzero = np.flatnonzero(raw[block:j])
        if len(nonzero):
            j = block + int(nonzero[-1]) + 1
            break
        j = block
    return lead + int(round(j / (RAW_RATE / OUTPUT_RATE)))


def _glottal_closure(q: Segment, prev: Segment | None, raw: np.ndarray, lead: int) -> None:
    """espeak's glottal stop is a run of exact-zero samples that begins inside the sound before its event:
    the q starts where the silence starts."""
    # + 1: the event was rounded to 16 kHz
    end = min(int(round((q.start - lead) * (RAW_RATE / OUTPUT_RATE))) + 1, len(raw))
    zero_start = _silence_start(raw, end, lead)
    if prev is not None and prev.label not in ("h#", "pau") and \
            prev.start + OUTPUT_RATE // 100 < zero_start < q.start:
        prev.end = q.start = zero_start


def epenthetic_gaps(samples: np.ndarray, segs: list[Segment], lead: int) -> np.ndarray:
    """The clean speech with every epi segment made silent (3 ms cosine ramps), as the label says."""
    out = samples.astype(np.float64)
    ramp = OUTPUT_RATE * 3 // 1000
    for seg in segs:
        if seg.label != "epi":
            continue
        a, b = max(seg.start - lead, 0), min(seg.end - lead, len(out))
        n = min(ramp, (b - a) // 2)
        if n < 1:
            continue
        gain = np.full(b - a, 10 ** (-40 / 20))
        fade = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n))
        gain[:n] = np.maximum(gain[:n], fade)
        gain[-n:] = np.maximum(gain[-n:], fade[::-1])
        out[a:b] *= gain
    return out


def _context_rules(segs: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for i, seg in enumerate(segs):
        prev = out[-1].label if out else "h#"
        nxt = segs[i + 1].label if i + 1 < len(segs) else "h#"
        dur = seg.end - seg.start
        label = seg.label
        if label == "hh" and prev in _VOICED and nxt in VOWELS:
            label = "hv"
        elif label == "uw" and prev in _CORONAL:
            label = "ux"
        elif label == "ax" and prev in _VOICELESS and nxt in _VOICELESS and dur < 0.04 * OUTPUT_RATE:
            label = "ax-h"
        elif label == "n" and prev in VOWELS and nxt in {"ax", "ix", "axr", "er"}:
            label = "nx"
        if label in _FRICATIVES and nxt in {"m", "n", "l"} and dur > 0.06 * OUTPUT_RATE:
            cut = seg.end - int(0.015 * OUTPUT_RATE)
            out += [Segment(label, seg.start, cut), Segment("epi", cut, seg.end)]
            continue
        out.append(Segment(label, seg.start, seg.end))
    return out


# -- speakers ---------------------------------------------------------------------------------------------

@dataclass
class Recording:
    """A read-condition speaker's channel: spectral tilt, optional room (RT60 s, direct-to-reverberant dB)
    and band (low, high Hz; 0 = open)."""

    tilt: float
    rt60: float = 0.0
    drr_db: float = 0.0
    band: tuple[int, int] = (0, 0)


@dataclass
class FestivalVoice:
    """A Festival speaker's voice (festival.FestivalSynthesizer's settings): one of festival.VOICES, durations
    stretched, F0 mean and spread (Hz; the spread None for the HTS voice, which makes its own), vocal-tract
    scaling (> 1: longer, lower formants)."""

    name: str
    duration_stretch: float
    f0_mean: float
    f0_std: float | None
    vocal_tract: float


@dataclass
class Speaker:
    """A speaker's plan. engine "espeak": voice, rate, pitch, pitch_range, volume and style set espeak-ng;
    engine "festival" (read condition): `festival` sets Festival and those espeak fields are unused."""

    id: str                 # TIMIT form, e.g. FCJF0
    region: int             # dialect region 1..8
    side: str               # TRAIN or TEST
    voice: Voice | None     # espeak's voice (None for a Festival speaker)
    rate: int
    pitch: int
    pitch_range: int
    engine: str = "espeak"  # the synthesiser: espeak (this module) | festival
    volume: int = 100       # espeak output volume (its Klatt sources clip at 100)
    style: Style | None = None          # read condition: connected-speech rule probabilities
    recording: Recording | None = None  # read condition: the channel
    festival: FestivalVoice | None = None   # engine festival: its voice


def _random_speaker_id(rng: np.random.Generator, sex: str, taken: set[str]) -> str:
    letters = "ABCDEFGHIJKLMNOPRSTW"
    while True:
        sid = sex + "".join(rng.choice(list(letters), 3)) + str(int(rng.integers(0, 2)))
        if sid.lower() not in taken:
            taken.add(sid.lower())
            return sid


def make_speakers(size: str, seed: int, condition: str = "read") -> list[Speaker]:
    if size not in SIZES:
        raise AsrserError(f"unknown mini-TIMIT size {size!r} ({', '.join(SIZES)})")
    if condition not in CONDITIONS:
        raise AsrserError(f"unknown mini-TIMIT condition {condition!r} ({', '.join(CONDITIONS)})")
    spec = SIZES[size]
    rng = np.random.default_rng([seed, 1])
    taken = {s.lower() for s in [*CORE_TEST_SPEAKERS, *DEV_SPEAKERS]}
    plan: list[tuple[str, int, str]] = []
    # the core test list names 3 speakers per dialect region, in region order (TIMIT's TESTSET.DOC)
    regions = {spk: 1 + i * 8 // len(CORE_TEST_SPEAKERS) for i, spk in enumerate(CORE_TEST_SPEAKERS)}
    core = sorted(regions.items(), key=lambda kv: (kv[1], kv[0]))
    core = [core[i] for i in np.linspace(0, len(core) - 1, spec["core"]).round().astype(int)]
    plan += [(spk.upper(), region, "TEST") for spk, region in core]
    dev = [DEV_SPEAKERS[i] for i in np.linspace(0, len(DEV_SPEAKERS) - 1, spec["dev"]).round().astype(int)]
    plan += [(spk.upper(), 1 + i % 8, "TEST") for i, spk in enumerate(dev)]
    for i in range(spec["other"]):
        plan.append((_random_speaker_id(rng, "MF"[i % 2], taken), 1 + i % 8, "TEST"))
    for i in range(spec["train"]):
        plan.append((_random_speaker_id(rng, "FM"[i % 2] if i % 3 else "M", taken), 1 + i % 8, "TRAIN"))
    if condition == "read":
        voice_rng, festival_rng = np.random.default_rng([seed, 3]), np.random.default_rng([seed, 5])
        sets = ["core"] * spec["core"] + ["dev"] * spec["dev"] + ["other"] * spec["other"] + ["train"] * spec["train"]
        traits = _dealt_traits(sets, np.random.default_rng([seed, 4]))
        speakers = [_read_speaker(sid, region, side, voice_rng, **t) for (sid, region, side), t in zip(plan, traits)]
        return [_festival_speaker(spk, festival_rng) for spk in speakers]
    speakers = []
    for sid, region, side in plan:
        female = sid[0] == "F"
        tract = rng.normal(1.10 if female else 1.0, 0.05)
        formants = {n: (int(round(100 * tract * rng.normal(1.0, 0.02))), int(rng.integers(85, 116)),
                        int(rng.integers(85, 116))) for n in (1, 2, 3, 4)}
        base = int(rng.integers(165, 225) if female else rng.integers(85, 135))
        voice = Voice(name=f"mt{sid.lower()}", gender="female" if female else "male", formants=formants,
                      pitch=(base, base + int(rng.integers(40, 90))), flutter=0,
                      roughness=int(rng.integers(0, 4)), breath=(int(rng.integers(0, 3)),) * 2)
        speakers.append(Speaker(sid, region, side, voice, rate=int(rng.integers(150, 195)),
                                pitch=int(rng.integers(35, 66)), pitch_range=int(rng.integers(30, 71))))
    return speakers


def _dealt_traits(sets: list[str], rng: np.random.Generator) -> list[dict[str, bool]]:
    """For each speaker (named by its set), whether it has a Klatt source, is far from the microphone and is
    band-limited: each trait dealt to round(share x n) speakers of each set of n, at random places."""
    traits: list[dict[str, bool]] = [{} for _ in sets]
    for name in dict.fromkeys(sets):
        members = [i for i, s in enumerate(sets) if s == name]
        for trait, share in (("klatt", KLATT_SHARE), ("far", FAR_SHARE), ("band", BAND_SHARE)):
            dealt = rng.permutation(len(members)) < int(round(share * len(members)))
            for i, has in zip(members, dealt):
                traits[i][trait] = bool(has)
    return traits


def _read_speaker(sid: str, region: int, side: str, rng: np.random.Generator, klatt: bool = False,
                  far: bool = False, band: bool = False) -> Speaker:
    """A read-condition speaker: a widely spread voice (vocal tract 0.85-1.05 male, 1.0-1.20 female, pitch,
    range, rate 120-220 wpm, voice quality, a Klatt voice source if `klatt`), a reading style and a channel:
    a room heard from far (`far`) or near, band-limited if `band`."""
    female = sid[0] == "F"
    tract = rng.uniform(1.0, 1.20) if female else rng.uniform(0.85, 1.05)
    formants = {n: (int(round(100 * tract * rng.normal(1.0, 0.03))), int(rng.integers(75, 126)),
                    int(rng.integers(75, 126))) for n in (1, 2, 3, 4)}
    base = int(rng.integers(150, 250) if female else rng.integers(75, 150))
    klatt = int(rng.choice(KLATT_SOURCES)) if klatt else 0
    voice = Voice(name=f"mt{sid.lower()}", gender="female" if female else "male", formants=formants,
                  pitch=(base, base + int(rng.integers(20, 120))), flutter=0,
                  roughness=int(rng.integers(0, 6)), breath=(int(rng.integers(0, 5)),) * 2,
                  tone=tuple(int(x) for x in (600, 170 + rng.integers(-40, 41), 1200, 135 + rng.integers(-30, 31),
                                              2000, 110 + rng.integers(-20, 21))),
                  extra=(f"klatt {klatt}",) if klatt else ())
    recording = Recording(tilt=float(rng.uniform(-0.6, 0.9)))
    recording.rt60, recording.drr_db = (float(rng.uniform(*FAR_RT60)), float(rng.uniform(*FAR_DRR_DB))) if far \
        else (float(rng.uniform(*NEAR_RT60)), float(rng.uniform(*NEAR_DRR_DB)))
    if band:
        recording.band = (300, 3400) if rng.random() < 0.5 \
            else (0, int(rng.integers(4000, 6001)))           # a telephone channel, or a low-pass microphone or codec
    return Speaker(sid, region, side, voice, rate=int(rng.integers(120, 221)), pitch=int(rng.integers(25, 76)),
                   pitch_range=int(rng.integers(15, 91)), volume=60 if klatt else 100,
                   style=speaker_style(rng), recording=recording)


# read: the share of speakers Festival speaks, by sex (about a third of all). Its voices: kal and ked are men,
# slt (HTS) a woman. A diphone utterance costs about what an espeak one does (20-22 ms with the channel, on
# a loaded machine), an HTS one six times that, so few women are Festival's: the default corpus has 60
# Festival speakers of 198, 4 of them slt, and generates at about 0.85 of the espeak-only speed.
FESTIVAL_SHARE = {"M": 0.5, "F": 0.05}
FESTIVAL_VOICES = {"M": ("kal_diphone", "ked_diphone"), "F": ("cmu_us_slt_arctic_hts",)}
F0_JITTER = 0.8                                 # read, Festival: per-utterance F0 spread in semitones


def _festival_speaker(spk: Speaker, rng: np.random.Generator) -> Speaker:
    """For a share of the read speakers (FESTIVAL_SHARE by sex), a Festival voice of the speaker's sex in
    place of espeak's, with durations (0.8-1.3), F0 and vocal tract drawn; the channel stays. Every speaker
    draws the same numbers, so the choice of one does not move another's."""
    sex = spk.id[0]
    chosen = rng.random() < FESTIVAL_SHARE[sex]
    name = str(rng.choice(FESTIVAL_VOICES[sex]))
    stretch = float(rng.uniform(0.8, 1.3))
    f0_mean = float(rng.uniform(150, 240) if sex == "F" else rng.uniform(80, 145))
    f0_std = float(f0_mean * rng.uniform(0.08, 0.25))
    tract = round(float(rng.uniform(0.92, 1.1)), 2)   # in 0.01 steps: a short resampling filter
    if not chosen:
        return spk
    from .festival import HTS_VOICES   # here: festival.py imports this module

    voice = FestivalVoice(name, stretch, f0_mean, None if name in HTS_VOICES else f0_std, tract)
    return replace(spk, engine="festival", voice=None, style=None, festival=voice)


@dataclass
class Job:
    path: str                # output path without extension
    text: str
    speaker: Speaker
    seed: int


def plan_corpus(out_dir: str | os.PathLike, size: str, seed: int, condition: str = "read") -> list[Job]:
    speakers = make_speakers(size, seed, condition)
    rng = np.random.default_rng([seed, 2])
    # as in TIMIT's core test design, no SX text is read on both sides
    sx_pools = {side: [sentence(rng) for _ in range(SIZES[size]["sx_pool"])] for side in ("TRAIN", "TEST")}
    sx_offset = {"TRAIN": 3, "TEST": 3 + SIZES[size]["sx_pool"]}
    jobs, si_number = [], 1000
    root = Path(out_dir) / "TIMIT"
    for k, spk in enumerate(speakers):
        spk_dir = root / spk.side / f"DR{spk.region}" / spk.id
        items = [(f"SA{i + 1}", text) for i, text in enumerate(SHARED_SENTENCES)]
        pool = sx_pools[spk.side]
        for j in rng.choice(len(pool), SX_PER_SPEAKER, replace=False):
            items.append((f"SX{sx_offset[spk.side] + int(j)}", pool[int(j)]))
        for _ in range(SI_PER_SPEAKER):
            si_number += 1
            items.append((f"SI{si_number}", sentence(rng)))
        for n, (name, text) in enumerate(items):
            jobs.append(Job(str(spk_dir / name), text, spk, seed * 1_000_003 + k * 101 + n))
    return jobs


# -- synthesis and writing --------------------------------------------------------------------------------

_VOICES: list[Voice] = []


_synthesizer: PartitionedSynthesizer | None = None
_festival: dict = {}    # Festival voice name -> its FestivalSynthesizer (one process per voice per worker)


def _init_worker(voices: list[Voice]) -> None:
    global _synthesizer
    _synthesizer = PartitionedSynthesizer(voices)
    # a pool worker leaves through multiprocessing's exit handlers, not atexit: close Festival there
    from multiprocessing.util import Finalize
    Finalize(None, _close_festival, exitpriority=10)


def _festival_synthesizer(voice: str):
    if voice not in _festival:
        from .festival import FestivalSynthesizer
        _festival[voice] = FestivalSynthesizer(voice)
    return _festival[voice]


def _close_festival() -> None:
    while _festival:
        _festival.popitem()[1].close()


def _words(text: str, synthesis, segs: list[Segment], lead: int) -> list[tuple[int, int, str]]:
    """Word segments: each WORD event's span split over the words it covers (espeak can merge words)."""
    words_in_text = text.rstrip(".").split()
    bounds, pos = [], 0
    for w in words_in_text:
        pos = text.index(w, pos)
        bounds.append((pos + 1, pos + 1 + len(w), w))
        pos += len(w)
    speech = [s for s in segs if s.label not in ("h#", "pau", "epi")]
    events = sorted(synthesis.words, key=lambda e: e[2])
    out = []
    for i, (tpos, length, sample) in enumerate(events):
        covered = [w for w in bounds if tpos <= w[0] < tpos + max(length, 1)]
        if not covered:
            continue
        start = sample + lead
        end = events[i + 1][2] + lead if i + 1 < len(events) else speech[-1].end
        inner = [s for s in speech if start <= s.start < end]
        if inner:
            start, end = inner[0].start, inner[-1].end
        weights = np.cumsum([len(w[2]) for w in covered]) / sum(len(w[2]) for w in covered)
        cuts = [start] + [start + int(round(wt * (end - start))) for wt in weights]
        out += [(cuts[k], cuts[k + 1], w[2].lower().strip(",")) for k, w in enumerate(covered)]
    return out


def _recording_conditions(audio: np.ndarray, lead: int, speech_len: int, rng: np.random.Generator) -> np.ndarray:
    """A head-mounted close-talking microphone in a sound booth, as TIMIT was recorded: random spectral tilt,
    a weak exponential reverberation tail (RT60 0.1-0.25 s at a direct-to-reverberant ratio of 20-30 dB,
    as a microphone a few cm from the lips hears it: the tail does not carry a phone past its end), pink
    noise at 8-25 dB SNR, and a level; so that the task is not the clean-TTS toy it would be."""
    from scipy.signal import fftconvolve, lfilter

    tilt = rng.uniform(-0.5, 0.9)
    audio = lfilter([1.0, -tilt], [1.0], audio)
    rt60 = rng.uniform(0.1, 0.25)
    t = np.arange(1, int(rt60 * OUTPUT_RATE)) / OUTPUT_RATE
    tail = rng.normal(size=len(t)) * np.exp(-6.9 * t / rt60)
    drr_db = rng.uniform(20, 30)
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail ** 2))
    audio = fftconvolve(audio, np.r_[1.0, tail])[:len(audio)]
    speech_power = np.mean(audio[lead:lead + speech_len] ** 2) + 1e-9
    white = rng.normal(size=len(audio) + 1)
    pink = lfilter([0.049922, -0.095993, 0.050612, -0.004408], [1, -2.494956, 2.017265, -0.522189], white)[1:]
    snr_db = rng.uniform(8, 25)
    audio = audio + pink * np.sqrt(speech_power / 10 ** (snr_db / 10) / (np.mean(pink ** 2) + 1e-12))
    peak = 10 ** (rng.uniform(-9, -3) / 20) * 32767
    audio *= peak / (np.abs(audio).max() + 1e-9)
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)


def synthesize_speaker(jobs: list[Job]) -> int:
    """Synthesise and write one speaker's utterances, in order, in one fork of the pristine espeak state
    (IsolatedSynthesizer): their bytes depend on the speaker's plan only, not on the job split."""
    if jobs[0].speaker.engine == "festival":
        return _synthesize_festival_speaker(jobs)
    if jobs[0].speaker.style is not None:
        return _synthesize_read_speaker(jobs)
    rngs = [np.random.default_rng(job.seed) for job in jobs]
    requests = [(job.text, dict(voice=f"en-us+{job.speaker.voice.name}",
                                rate=job.speaker.rate + int(rng.integers(-8, 9)), pitch=job.speaker.pitch,
                                pitch_range=job.speaker.pitch_range)) for job, rng in zip(jobs, rngs)]
    syntheses = _synthesizer.for_voice(jobs[0].speaker.voice.name).synthesize_group(requests)
    for job, rng, synthesis in zip(jobs, rngs, syntheses):
        _write_utterance(job, synthesis, rng)
    return len(jobs)


def _text_words(text: str) -> list[str]:
    return [w.lower().strip(".,?!;:") for w in text.split()]


def connected_speech(jobs: list[Job], rngs: list[np.random.Generator]) -> list[tuple[str, list[list[str]]]]:
    """Each job's sentence as espeak phoneme input with the speaker's connected-speech rules applied, and the
    text words each phoneme word speaks. Clauses are joined by a pause (`_:`)."""
    texts = [job.text for job in jobs]
    words = sorted({w for t in texts for w in _text_words(t)})
    voice = jobs[0].speaker.voice
    transcribed = _synthesizer.for_voice(voice.name if voice else None).phonemes_group(
        [(t, "en-us") for t in texts + words])
    citation = {w: " ".join(c) for w, c in zip(words, transcribed[len(texts):])}
    out = []
    for job, rng, clauses in zip(jobs, rngs, transcribed):
        phoneme_words = " _: ".join(c for c in clauses if c).split()
        text_words = _text_words(job.text)
        covered = align_words(phoneme_words, text_words, [citation[w] for w in text_words])
        style = job.speaker.style.for_utterance(rng)
        spoken, _ = apply_rules(phoneme_words, covered, style, rng)
        out.append(("[[" + " ".join(spoken) + "]]", covered))
    return out


def _text_word_events(text: str, phoneme_input: str, covered: list[list[str]], synthesis: Synthesis) -> None:
    """Word events of a phoneme-input synthesis (positions in the phoneme string) moved to the text words
    each phoneme word speaks, so `_words` reads them as for text input; pauses' events are dropped."""
    starts, pos = [], 2                     # after "[["
    for w in phoneme_input[2:-2].split(" "):
        starts.append(pos + 1)              # 1-based, as espeak counts
        pos += len(w) + 1
    text_bounds, pos = [], 0
    for w in text.rstrip(".").split():
        pos = text.index(w, pos)
        text_bounds.append((pos + 1, len(w)))
        pos += len(w)
    word_index = 0
    first_text_word = []
    for ws in covered:
        first_text_word.append(word_index)
        word_index += len(ws)
    events, seen = [], set()
    for tpos, _, sample in sorted(synthesis.words, key=lambda e: e[2]):
        k = max(i for i, st in enumerate(starts) if st <= tpos) if tpos >= starts[0] else 0
        if not covered[k] or k in seen:       # a pause, or a second event inside one phoneme word
            continue
        seen.add(k)
        a = first_text_word[k]
        b = a + len(covered[k]) - 1
        events.append((text_bounds[a][0], text_bounds[b][0] + text_bounds[b][1] - text_bounds[a][0], sample))
    synthesis.words = events


def _synthesize_read_speaker(jobs: list[Job]) -> int:
    spk = jobs[0].speaker
    rngs = [np.random.default_rng(job.seed) for job in jobs]
    spoken = connected_speech(jobs, rngs)
    requests = [(phonemes, dict(voice=f"en-us+{spk.voice.name}", volume=spk.volume,
                                rate=int(round(spk.rate * np.exp(rng.normal(0, RATE_JITTER)))),
                                pitch=int(np.clip(spk.pitch + rng.normal(0, PITCH_JITTER), 0, 99)),
                                pitch_range=spk.pitch_range))
                for (phonemes, _), rng in zip(spoken, rngs)]
    syntheses = _synthesizer.for_voice(spk.voice.name).synthesize_group(requests)
    for job, (phonemes, covered), synthesis in zip(jobs, spoken, syntheses):
        _text_word_events(job.text, phonemes, covered, synthesis)
    # babble: the speaker's other sentences, several at once (the group is always the whole speaker, so the
    # bytes do not depend on the job split)
    clean = [s.samples.astype(np.float64) for s in syntheses]
    for i, (job, rng, synthesis) in enumerate(zip(jobs, rngs, syntheses)):
        others = [c for j, c in enumerate(clean) if j != i]
        _write_utterance(job, synthesis, rng, babble_sources=others)
    return len(jobs)


def _synthesize_festival_speaker(jobs: list[Job]) -> int:
    """A Festival speaker's utterances: the text as written (Festival's own lexicon and post-lexical rules;
    mini-TIMIT's connected-speech rules act on espeak's phoneme strings only), the speaker's duration
    stretch and F0 moved per utterance (RATE_JITTER, F0_JITTER), then the same channel as espeak's speakers."""
    voice = jobs[0].speaker.festival
    festival = _festival_synthesizer(voice.name)
    rngs = [np.random.default_rng(job.seed) for job in jobs]
    syntheses = []
    for job, rng in zip(jobs, rngs):
        stretch = voice.duration_stretch * float(np.exp(rng.normal(0, RATE_JITTER)))
        f0_mean = voice.f0_mean * 2.0 ** (float(rng.normal(0, F0_JITTER)) / 12)
        syntheses.append(festival.synthesize(job.text, stretch, f0_mean, voice.f0_std, voice.vocal_tract))
    clean = [s.samples.astype(np.float64) for s in syntheses]
    for i, (job, rng, synthesis) in enumerate(zip(jobs, rngs, syntheses)):
        others = [c for j, c in enumerate(clean) if j != i]
        _write_utterance(job, synthesis, rng, babble_sources=others)
    return len(jobs)


def festival_words(text: str, synthesis, segs: list[Segment], lead: int) -> list[tuple[int, int, str]]:
    """Word segments of a Festival utterance: each word of the text spans the words Festival expanded its token
    into ("$5" -> five dollars), labelled as the text writes it (lower case, no punctuation); the first starts
    and the last ends with the phones (`segs`, from h# to h#)."""
    text_words = _text_words(text)
    spans: dict[int, tuple[int, int]] = {}
    for (_, start, end), token in zip(synthesis.words, synthesis.word_tokens):
        first, last = spans.get(token, (start, end))
        spans[token] = (min(first, start), max(last, end))
    missing = [w for k, w in enumerate(text_words) if k not in spans]
    if missing or len(spans) != len(text_words):
        raise AsrserError(f"Festival spoke no words for {missing} of {text!r} (its tokens: {sorted(spans)})")
    out = [[spans[k][0] + lead, spans[k][1] + lead, w] for k, w in enumerate(text_words)]
    out[0][0], out[-1][1] = segs[1].start, segs[-2].end
    return [tuple(w) for w in out]


def _babble(n: int, sources: list[np.ndarray], rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    out = np.zeros(n)
    for k in rng.choice(len(sources), min(talkers, len(sources)), replace=False):
        src = sources[int(k)]
        src = src / (np.sqrt(np.mean(src ** 2)) + 1e-9)
        reps = np.tile(src, n // len(src) + 2)
        start = int(rng.integers(0, len(src)))
        out += reps[start:start + n]
    return out


def _stationary(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import lfilter

    if kind == "pink":
        return pink(n, rng)
    white = rng.normal(size=n)
    return white if kind == "white" else lfilter([1.0], [1.0, -0.98], white)   # brown: integrated white


def read_recording(audio: np.ndarray, lead: int, speech_len: int, rec: Recording, rng: np.random.Generator,
                   babble_sources: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The read condition's channel: the speaker's tilt and room, noise of a drawn kind at an SNR drawn from
    SNR_DB (measured on the speech span), the speaker's band, a level. Returns int16 samples and the SNR."""
    from scipy.signal import fftconvolve, firwin

    audio = tilted(audio, rec.tilt)
    if rec.rt60 > 0:
        audio = reverberate(audio, rec.rt60, rec.drr_db, rng)
    kind = NOISES[int(rng.integers(len(NOISES)))]
    noise = _babble(len(audio), babble_sources, rng) if kind == "babble" and babble_sources \
        else _stationary("pink" if kind == "babble" else kind, len(audio), rng)
    snr_db = float(rng.uniform(*SNR_DB))
    speech_power = np.mean(audio[lead:lead + speech_len] ** 2) + 1e-9
    audio = audio + noise * np.sqrt(speech_power / 10 ** (snr_db / 10) / (np.mean(noise ** 2) + 1e-12))
    low, high = rec.band
    if low or high:
        taps = firwin(511, [f for f in (low, high) if f], pass_zero="bandpass" if low and high else "lowpass",
                      fs=OUTPUT_RATE, window=("kaiser", 8.0))
        audio = fftconvolve(audio, taps)[255:255 + len(audio)]
    audio = at_level(audio, float(rng.uniform(-32, -20)))
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16), snr_db


def _write_utterance(job: Job, s: Synthesis, rng: np.random.Generator,
                     babble_sources: list[np.ndarray] | None = None) -> None:
    spk = job.speaker
    lead = int(rng.integers(int(0.1 * OUTPUT_RATE), int(0.25 * OUTPUT_RATE)))
    tail = int(rng.integers(int(0.1 * OUTPUT_RATE), int(0.25 * OUTPUT_RATE)))
    total = lead + len(s.samples) + tail
    if spk.engine == "festival":   # its segments run from h# to h# over its samples (epi already silent)
        segs = [Segment(g.label, g.start + lead, g.end + lead) for g in s.segments[1:-1]]
        _phones_to_sound_edges(segs, s.samples, lead, total)
        segs = [Segment("h#", 0, segs[0].start), *segs, Segment("h#", segs[-1].end, total)]
        words = festival_words(job.text, s, segs, lead)
        audio = np.concatenate([np.zeros(lead), s.samples.astype(np.float64), np.zeros(tail)])
    else:
        segs = espeak_to_timit(s.phones, s.samples, s.raw, lead, total)
        words = _words(job.text, s, segs, lead)
        audio = np.concatenate([np.zeros(lead), epenthetic_gaps(s.samples, segs, lead), np.zeros(tail)])
    if spk.recording is None:
        samples = _recording_conditions(audio, lead, len(s.samples), rng)
    else:
        samples, _ = read_recording(audio, lead, len(s.samples), spk.recording, rng, babble_sources or [])
    base = Path(job.path)
    base.parent.mkdir(parents=True, exist_ok=True)
    utt_id = f"{spk.id[1:].lower()}_{base.name.lower()}"
    fields = {"database_id": "TIMIT", "database_version": "1.0", "utterance_id": utt_id}
    with atomic_write(base.with_suffix(".WAV"), "wb", encoding=None) as f:
        f.write(sphere_bytes(samples, OUTPUT_RATE, fields))
    with atomic_write(base.with_suffix(".PHN")) as f:
        f.writelines(f"{g.start} {g.end} {g.label}\n" for g in segs)
    with atomic_write(base.with_suffix(".WRD")) as f:
        f.writelines(f"{a} {b} {w}\n" for a, b, w in words)
    with atomic_write(base.with_suffix(".TXT")) as f:
        f.write(f"0 {len(samples)} {job.text}\n")


def generate(out_dir: str | os.PathLike, size: str = "default", seed: int = 0, nj: int = 1,
             progress: bool = True, condition: str = "read") -> int:
    """Write the corpus under <out_dir>/TIMIT; returns the number of utterances. Skips finished files."""
    if condition not in CONDITIONS:
        raise AsrserError(f"unknown mini-TIMIT condition {condition!r} ({', '.join(CONDITIONS)})")
    check_generated_dir(out_dir, "mini-TIMIT", size=size, seed=seed, condition=condition)
    jobs = plan_corpus(out_dir, size, seed, condition)
    by_speaker: dict[str, list[Job]] = {}
    for job in jobs:
        by_speaker.setdefault(job.speaker.id, []).append(job)
    # a speaker with any file missing is made again whole: its utterances share one synthesis state
    todo = [group for group in by_speaker.values()
            if not all(Path(j.path).with_suffix(e).exists() for j in group for e in (".WAV", ".PHN", ".WRD",
                                                                                      ".TXT"))]
    voices = sorted({j.speaker.voice.name: j.speaker.voice for j in jobs if j.speaker.voice}.values(),
                    key=lambda v: v.name)
    festival_voices = sorted({j.speaker.festival.name for j in jobs if j.speaker.festival})
    if festival_voices:
        from .festival import DEBIAN_PACKAGES, available
        if not all(map(available, festival_voices)):
            raise AsrserError(f"mini-TIMIT's {condition} condition needs Festival voices "
                              f"{', '.join(festival_voices)} (Debian packages {' '.join(DEBIAN_PACKAGES)}; "
                              "tools/install_debian.sh installs them)")
    bar = progress_bar(total=sum(map(len, todo)), desc=f"mini-TIMIT ({size})", unit="utt", enabled=progress)
    if nj <= 1:
        _init_worker(voices)
        try:
            for group in todo:
                bar.update(synthesize_speaker(group))
        finally:
            _synthesizer.close()
            _close_festival()
    else:
        with ProcessPoolExecutor(nj, initializer=_init_worker, initargs=(voices,)) as pool:
            for n in pool.map(synthesize_speaker, todo):
                bar.update(n)
    bar.close()
    log.info("mini-TIMIT %s %s (seed %d): %d utterances (%d new) in %s", size, condition, seed, len(jobs),
             sum(map(len, todo)), Path(out_dir) / "TIMIT")
    return len(jobs)
