"""CASIA Chinese emotional speech data preparation (the real corpus and mini-CASIA alike) for speech emotion
recognition.

CASIA (Institute of Automation, Chinese Academy of Sciences) has 4 speakers (liuchanhg and zhaoquanyin, women;
wangzhe and ZhaoZuoxiang, men) reading Mandarin sentences in 6 emotions, 16 kHz mono. Labels come from folder
names only. Two layouts are read; which level holds the speakers is found by looking for emotion-named folders:

  (a) <root>/<speaker>/<emotion>/<n>.wav           the widely circulated 1,200-clip subset
  (b) <root>/<subset>/<speaker>/<emotion>/<n>.wav  the full release, with same-text/different-text top folders

Writes one Kaldi data dir, replaced whole:

  <data>/casia/{wav.scp, utt2spk, spk2utt, utt2emo, spk2gender, utt2subset (layout b only)}

utt2emo holds the emotion folder's name lower-cased (angry fear happy neutral sad surprise; a folder named
`normal`, as some releases call neutral, is read as neutral); conf/casia_emotions.map makes the 6 classes
ang fea hap neu sad sur of them. Utterance ids are <speaker>-<emotion>-<stem>, or <speaker>-<subset>-<emotion>-
<stem> in layout (b). Speaker folders spelt otherwise (Chang.Liu, Zuoxiang_Zhao, ...) are read as the same four
speakers when their letters spell the name in either order; a speaker folder that is not recognised keeps its
name, and then spk2gender (which must cover every speaker) is not written.

Bad input: an emotion folder with an unknown name, a wav that is not 16 kHz mono (or is truncated or
unreadable), two files that give the same utterance id, or a root without speaker folders is an error naming the
folder or file, and no data dir is written. Files that are not wavs (and hidden files, e.g. macOS's `._` copies)
and speaker folders without emotion folders are skipped, counted and logged with an example.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..audio import read_audio
from ..data import write_spk2utt
from ..data.datadir import _replace_dir
from ..errors import AsrserError
from ..fileio import write_key_value

log = logging.getLogger(__name__)

EMOTIONS = ("angry", "fear", "happy", "neutral", "sad", "surprise")
# folder name (lower-cased) -> emotion: some releases name neutral `normal`
EMOTION_FOLDERS = {**{e: e for e in EMOTIONS}, "normal": "neutral"}
SAMPLE_RATE = 16000
# canonical speaker -> (gender, family name, spellings of the given name): `liuchanhg` is the corpus's own typo
SPEAKERS = {"liuchanhg": ("f", "liu", ("chang", "chanhg")),
            "zhaoquanyin": ("f", "zhao", ("quanyin",)),
            "wangzhe": ("m", "wang", ("zhe",)),
            "ZhaoZuoxiang": ("m", "zhao", ("zuoxiang",))}


@dataclass
class Clip:
    speaker: str          # canonical speaker id (or the folder's own name when not recognised)
    emotion: str          # one of EMOTIONS
    stem: str             # the wav's name without .wav
    subset: str | None    # the top folder in layout (b)
    path: Path

    @property
    def utt_id(self) -> str:
        middle = f"{self.subset}-" if self.subset is not None else ""
        return f"{self.speaker}-{middle}{self.emotion}-{self.stem}"


def _id_part(name: str) -> str:
    """A folder or file name usable inside a Kaldi id (no whitespace)."""
    return re.sub(r"\s+", "_", name.strip())


def canonical_speaker(folder_name: str) -> str | None:
    """The CASIA speaker a folder name spells (liuchanhg for liuchanhg, Chang.Liu, liu_chang, ...), or None."""
    letters = re.sub(r"[^a-z]", "", folder_name.lower())
    for speaker, (_, family, givens) in SPEAKERS.items():
        if any(letters in (family + given, given + family) for given in givens):
            return speaker
    return None


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as e:   # unreadable: not a CASIA folder we can use
        raise AsrserError(f"{folder}: cannot list the folder ({e.strerror})") from None


def _has_emotion_folders(folder: Path) -> bool:
    return any(p.name.lower() in EMOTION_FOLDERS for p in _subdirs(folder))


def find_speaker_folders(root: Path) -> list[tuple[str | None, Path]]:
    """(subset or None, speaker folder) of layout (a) or (b), whichever level holds emotion-named folders."""
    if not root.is_dir():
        raise AsrserError(f"{root}: CASIA directory does not exist")
    top = _subdirs(root)
    if any(_has_emotion_folders(d) for d in top):
        return [(None, d) for d in top]
    if any(_has_emotion_folders(s) for d in top for s in _subdirs(d)):
        return [(_id_part(d.name), s) for d in top for s in _subdirs(d)]
    raise AsrserError(f"{root}: no CASIA speakers found (expected <speaker>/<emotion>/*.wav or <subset>/<speaker>/"
                      f"<emotion>/*.wav with emotion folders {' '.join(EMOTIONS)} or normal)")


def scan_casia(root: Path) -> tuple[list[Clip], Counter]:
    """(the clips, skip counts), with a warning per kind of skip. An unknown emotion folder, or two files with
    the same utterance id, is an error naming them."""
    clips: list[Clip] = []
    skipped: Counter = Counter()
    examples: dict[str, Path] = {}

    def skip(reason: str, path: Path) -> None:
        skipped[reason] += 1
        examples.setdefault(reason, path)

    for subset, speaker_dir in find_speaker_folders(root):
        emotion_dirs = _subdirs(speaker_dir)
        if not emotion_dirs:
            skip("folder without emotion folders", speaker_dir)
            continue
        speaker = canonical_speaker(speaker_dir.name) or _id_part(speaker_dir.name)
        for emotion_dir in emotion_dirs:
            emotion = EMOTION_FOLDERS.get(emotion_dir.name.lower())
            if emotion is None:
                raise AsrserError(f"{emotion_dir}: unknown emotion folder {emotion_dir.name!r} (known: "
                                  f"{' '.join(EMOTIONS)}, and normal for neutral)")
            for path in sorted(emotion_dir.iterdir()):
                if path.is_dir():
                    raise AsrserError(f"{path}: unexpected folder inside an emotion folder (expected only "
                                      "<n>.wav files)")
                if path.name.startswith(".") or path.suffix.lower() != ".wav":
                    skip("non-wav file", path)
                    continue
                clips.append(Clip(speaker, emotion, _id_part(path.stem), subset, path))
        for path in sorted(p for p in speaker_dir.iterdir() if not p.is_dir()):
            skip("non-wav file" if path.suffix.lower() != ".wav" else "file outside an emotion folder", path)
    seen: dict[str, Path] = {}
    for clip in clips:
        if clip.utt_id in seen:
            raise AsrserError(f"{clip.path}: gives the same utterance id {clip.utt_id} as {seen[clip.utt_id]} "
                              "(two folders of one speaker, e.g. neutral and normal, or two spellings of a "
                              "speaker, hold the same file name)")
        seen[clip.utt_id] = clip.path
    for reason, count in sorted(skipped.items()):
        log.warning("%d %s%s under %s skipped (e.g. %s)", count, reason, "s" if count > 1 else "", root,
                    examples[reason])
    return clips, skipped


def check_audio(paths: list[Path], sample_rate: int = SAMPLE_RATE) -> None:
    """Every wav readable, complete, mono and at sample_rate; an error naming the first that is not."""
    for path in paths:
        audio = read_audio(str(path))            # unreadable, truncated, empty or not mono: AudioError
        if audio.sample_rate != sample_rate:
            raise AsrserError(f"{path}: sample rate is {audio.sample_rate} Hz, expected {sample_rate} Hz (CASIA is "
                              f"16 kHz mono; resample it, e.g. sox IN -r {sample_rate} OUT)")


def write_data_dir(clips: list[Clip], out: Path) -> None:
    """The data dir, replacing an earlier one whole."""
    clips = sorted(clips, key=lambda c: c.utt_id)
    speakers = sorted({c.speaker for c in clips})
    genders = {s: SPEAKERS[s][0] for s in speakers if s in SPEAKERS}

    def fill(tmp: Path) -> None:
        write_key_value(tmp / "wav.scp", ((c.utt_id, str(c.path.resolve())) for c in clips))
        write_key_value(tmp / "utt2spk", ((c.utt_id, c.speaker) for c in clips))
        write_key_value(tmp / "utt2emo", ((c.utt_id, c.emotion) for c in clips))
        if any(c.subset is not None for c in clips):
            write_key_value(tmp / "utt2subset", ((c.utt_id, c.subset) for c in clips))
        if len(genders) == len(speakers):
            write_key_value(tmp / "spk2gender", genders)
        write_spk2utt(tmp)

    unknown = [s for s in speakers if s not in genders]
    if unknown:
        log.warning("speakers %s are not among CASIA's four (%s): no spk2gender written", " ".join(unknown),
                    " ".join(SPEAKERS))
    _replace_dir(out, fill)


def count_table(clips: list[Clip]) -> str:
    """Utterances per speaker and emotion, with totals, as printable text."""
    counts = Counter((c.speaker, c.emotion) for c in clips)
    speakers = sorted({c.speaker for c in clips})
    width = max(8, *(len(s) for s in speakers)) + 1
    rows = [f"{'speaker':{width}s}" + "".join(f"{e:>9s}" for e in EMOTIONS) + f"{'total':>7s}"]
    for s in speakers:
        rows.append(f"{s:{width}s}" + "".join(f"{counts[s, e]:9d}" for e in EMOTIONS)
                    + f"{sum(counts[s, e] for e in EMOTIONS):7d}")
    rows.append(f"{'total':{width}s}" + "".join(f"{sum(counts[s, e] for s in speakers):9d}" for e in EMOTIONS)
                + f"{len(clips):7d}")
    return "\n".join(rows)


def prepare_casia(casia_dir: str | os.PathLike, data_parent: str | os.PathLike, name: str = "casia",
                  print_counts: bool = False) -> Path:
    """Write <data_parent>/<name> (an SER data dir with CASIA's emotion names in utt2emo) and return it. Every
    input is checked before anything is written."""
    root = Path(casia_dir)
    clips, skipped = scan_casia(root)
    if not clips:
        raise AsrserError(f"{root}: no wav files found in its emotion folders")
    check_audio([c.path for c in clips])
    out = Path(data_parent) / name
    write_data_dir(clips, out)
    counts = Counter(c.emotion for c in clips)
    subsets = sorted({c.subset for c in clips if c.subset is not None})
    note = f"; {sum(skipped.values())} skipped ({dict(skipped)})" if skipped else ""
    log.info("%s: %d utterances of %d speakers%s (%s)%s", out, len(clips), len({c.speaker for c in clips}),
             f" in subsets {' '.join(subsets)}" if subsets else "",
             " ".join(f"{e} {counts[e]}" for e in EMOTIONS if counts[e]), note)
    if print_counts:
        print(count_table(clips))
    return out


__all__ = ["prepare_casia", "scan_casia", "find_speaker_folders", "canonical_speaker", "count_table", "EMOTIONS",
           "EMOTION_FOLDERS", "SPEAKERS", "SAMPLE_RATE"]
