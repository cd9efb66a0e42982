"""IEMOCAP data preparation (the real release and mini-IEMOCAP alike) for speech emotion recognition.

Reads IEMOCAP_full_release/Session{1..5}/dialog/EmoEvaluation/<dialog>.txt (one labelled turn per block),
the turn audio Session{k}/sentences/wav/<dialog>/<turn>.wav and the transcripts
Session{k}/dialog/transcriptions/<dialog>.txt, and writes one Kaldi data dir:

  <data>/iemocap/{wav.scp, text, utt2spk, spk2utt, spk2gender, utt2emo, utt2sess}

Speakers are the 10 actors, session + sex of the turn's speaker (the letter in the turn's last part:
Ses01M_impro01_F003 is spoken by Ses01F). Utterance ids start with the speaker: Ses01F-Ses01M_impro01_F003.
utt2emo holds IEMOCAP's own emotion code of every labelled turn with audio; the SER recipe's class map
(conf/iemocap_emotions.map) makes the usual four classes of it, neu ang hap sad, with exc merged into hap and
fru sur fea dis oth xxx dropped (5531 utterances on the real corpus: 1708 neu, 1103 ang, 1636 hap+exc,
1084 sad).

Bad input: an EmoEvaluation line that does not parse (a malformed time range among them) or an unknown emotion
code is a DataError naming the file and line. A labelled turn without its wav file is skipped, logged and
counted; so are turns with audio that no EmoEvaluation block labels (an empty or missing EmoEvaluation file,
missing blocks), with a warning naming the file and the dialog. Transcript lines that are not turns (the real
files have some, e.g. Ses03F_impro05_MXX0 for unlabelled talk) are ignored.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..data import write_spk2utt
from ..errors import AsrserError, DataError
from ..fileio import write_key_value

log = logging.getLogger(__name__)

EMOTION_CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx")
SESSIONS = (1, 2, 3, 4, 5)

# `[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]`
TURN_LINE = re.compile(r"^\[(?P<start>\d+(?:\.\d+)?) - (?P<end>\d+(?:\.\d+)?)\]\t(?P<turn>\S+)\t(?P<emo>\S+)\t"
                       r"\[(?P<v>\d+(?:\.\d+)?), (?P<a>\d+(?:\.\d+)?), (?P<d>\d+(?:\.\d+)?)\]$")
# `C-E2:<TAB>Neutral;<TAB>()`, `A-E1:<TAB>val 3; act 2; dom  3;<TAB>()`, self-evaluations C-F1, A-M1, ...
EVALUATOR_LINE = re.compile(r"^[CA]-[A-Z]+\d*:")
HEADER_LINE = re.compile(r"^%")
# Ses01F_impro01_F000, Ses01F_script01_1_M012, Ses03M_impro05a_F001: session, marked sex, dialog, speaker sex
TURN_NAME = re.compile(r"^(?P<session>Ses0(?P<k>[1-5]))(?P<marked>[FM])_(?P<rest>\S+)_(?P<sex>[FM])(?P<n>\d+)$")
# `Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.`
TRANSCRIPT_LINE = re.compile(r"^(?P<turn>\S+) \[(?P<start>\d+(?:\.\d+)?)-(?P<end>\d+(?:\.\d+)?)\]:\s?(?P<text>.*)$")


@dataclass
class Turn:
    name: str             # Ses01F_impro01_F000
    dialog: str           # Ses01F_impro01
    session: int
    speaker: str          # Ses01F
    emotion: str          # the EmoEvaluation code
    start: float
    end: float
    vad: tuple[float, float, float]
    source: str           # file:line, for messages

    @property
    def utt_id(self) -> str:
        return f"{self.speaker}-{self.name}"


def find_iemocap_root(path: str | os.PathLike) -> Path:
    """The directory holding Session1..5: the given one, or its IEMOCAP_full_release subdirectory."""
    path = Path(path)
    if not path.is_dir():
        raise AsrserError(f"{path}: IEMOCAP directory does not exist")
    for candidate in (path, path / "IEMOCAP_full_release"):
        if any((candidate / f"Session{k}").is_dir() for k in SESSIONS):
            return candidate
    raise AsrserError(f"{path}: no Session1..Session5 directories found (looked in it and in "
                      "IEMOCAP_full_release/)")


def read_emo_evaluation(path: Path, session: int | None = None) -> list[Turn]:
    """The labelled turns of one EmoEvaluation file, strictly parsed."""
    turns = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line or HEADER_LINE.match(line) or EVALUATOR_LINE.match(line):
            continue
        m = TURN_LINE.match(line)
        if m is None:
            what = "turn line" if line.startswith("[") else "line"
            raise DataError(path, f"{what} does not parse (expected '[START - END]<TAB>TURN<TAB>EMO<TAB>[V, A, D]' "
                                  f"or an evaluator line): {line!r}", n)
        emo = m["emo"]
        if emo not in EMOTION_CODES:
            raise DataError(path, f"unknown emotion code {emo!r} for turn {m['turn']} (known: "
                                  f"{' '.join(EMOTION_CODES)})", n)
        name = TURN_NAME.match(m["turn"])
        if name is None:
            raise DataError(path, f"turn name {m['turn']!r} does not say its session and speaker "
                                  "(expected e.g. Ses01F_impro01_F000)", n)
        k = int(name["k"])
        if session is not None and k != session:
            raise DataError(path, f"turn {m['turn']} belongs to session {k} but the file is in Session{session}", n)
        start, end = float(m["start"]), float(m["end"])
        if end < start:
            raise DataError(path, f"turn {m['turn']} ends ({end}) before it starts ({start})", n)
        turns.append(Turn(m["turn"], m["turn"].rsplit("_", 1)[0], k, name["session"] + name["sex"], emo, start, end,
                          (float(m["v"]), float(m["a"]), float(m["d"])), f"{path}:{n}"))
    return turns


def read_transcriptions(path: Path) -> dict[str, str]:
    """turn -> text; lines that are not `TURN [start-end]: text` are ignored (counted at debug level)."""
    texts, other = {}, 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = TRANSCRIPT_LINE.match(line.strip())
        if m is None:
            other += line.strip() != ""
            continue
        texts[m["turn"]] = m["text"].strip()
    if other:
        log.debug("%s: %d lines that are not turn transcripts ignored", path, other)
    return texts


def _txt_files(folder: Path) -> list[Path]:
    """The dialog files of a folder (real releases also hold subfolders and '._' resource-fork files)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".txt" and not p.name.startswith("."))


def scan_iemocap(root: Path) -> tuple[list[Turn], dict[str, Path], dict[str, str], Counter]:
    """(labelled turns with audio, wav per turn, text per turn, skip reasons)."""
    kept, wavs, texts = [], {}, {}
    skipped = Counter()
    seen: dict[str, str] = {}
    sessions = [k for k in SESSIONS if (root / f"Session{k}").is_dir()]
    for k in sessions:
        session_dir = root / f"Session{k}"
        evaluations = _txt_files(session_dir / "dialog" / "EmoEvaluation")
        if not evaluations:
            raise AsrserError(f"{session_dir}/dialog/EmoEvaluation: no label files")
        transcripts: dict[str, str] = {}
        for path in _txt_files(session_dir / "dialog" / "transcriptions"):
            transcripts.update(read_transcriptions(path))
        labelled_per_file = {}
        for path in evaluations:
            turns = read_emo_evaluation(path, k)
            labelled_per_file[path] = len(turns)
            for turn in turns:
                if turn.name in seen:
                    raise DataError(path, f"turn {turn.name} is labelled twice (first at {seen[turn.name]})",
                                    int(turn.source.rsplit(":", 1)[1]))
                seen[turn.name] = turn.source
                wav = session_dir / "sentences" / "wav" / turn.dialog / f"{turn.name}.wav"
                if not wav.is_file():
                    log.warning("skipping %s (%s): no audio file %s", turn.name, turn.source, wav)
                    skipped["no wav"] += 1
                    continue
                if turn.name not in transcripts:
                    log.warning("%s (%s): no transcript line; its text is empty", turn.name, turn.source)
                    skipped["no transcript (kept, empty text)"] += 1
                kept.append(turn)
                wavs[turn.name] = wav
                texts[turn.name] = transcripts.get(turn.name, "")
        unlabelled = _count_unlabelled_audio(session_dir, labelled_per_file, set(seen))
        if unlabelled:
            skipped["no label"] += unlabelled
    return kept, wavs, texts, skipped


def _count_unlabelled_audio(session_dir: Path, labelled_per_file: dict[Path, int], labelled: set[str]) -> int:
    """Turns with audio in sentences/wav/<dialog>/ that no EmoEvaluation block labels (they are left out), with
    a warning per dialog naming its EmoEvaluation file: an empty one, a missing one, or blocks missing; and a
    warning for every EmoEvaluation file without a labelled turn."""
    wav_root = session_dir / "sentences" / "wav"
    dialogs = sorted(p for p in wav_root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if wav_root.is_dir() else []
    files = {path.stem: path for path in labelled_per_file}
    unlabelled_total = 0
    for dialog_dir in dialogs:
        turns = sorted(p.stem for p in dialog_dir.glob("*.wav") if not p.name.startswith("."))
        unlabelled = [t for t in turns if t not in labelled]
        unlabelled_total += len(unlabelled)
        path = files.get(dialog_dir.name)
        if path is None:
            if unlabelled:
                log.warning("%s: no EmoEvaluation file %s.txt: its %d turns with audio (%s) have no label and are "
                            "left out", session_dir / "dialog" / "EmoEvaluation", dialog_dir.name, len(unlabelled),
                            dialog_dir)
        elif labelled_per_file[path] == 0:
            log.warning("%s: no labelled turn (an empty EmoEvaluation file): %d of the %d turns with audio of %s "
                        "have no label and are left out", path, len(unlabelled), len(turns), dialog_dir.name)
        elif unlabelled:
            log.warning("%s: %d of the %d turns with audio of %s have no label (e.g. %s) and are left out", path,
                        len(unlabelled), len(turns), dialog_dir.name, unlabelled[0])
    with_audio = {d.name for d in dialogs}
    for path, n in labelled_per_file.items():
        if n == 0 and path.stem not in with_audio:
            log.warning("%s: no labelled turn (an empty EmoEvaluation file), and no audio folder %s", path,
                        wav_root / path.stem)
    return unlabelled_total


def write_data_dir(turns: list[Turn], wavs: dict[str, Path], texts: dict[str, str], out: Path) -> None:
    turns = sorted(turns, key=lambda t: t.utt_id)
    out.mkdir(parents=True, exist_ok=True)
    write_key_value(out / "wav.scp", ((t.utt_id, str(wavs[t.name].resolve())) for t in turns))
    write_key_value(out / "text", ((t.utt_id, texts[t.name]) for t in turns))
    write_key_value(out / "utt2spk", ((t.utt_id, t.speaker) for t in turns))
    write_key_value(out / "utt2emo", ((t.utt_id, t.emotion) for t in turns))
    write_key_value(out / "utt2sess", ((t.utt_id, f"Ses{t.session:02d}") for t in turns))
    write_spk2utt(out)
    write_key_value(out / "spk2gender", ((s, s[-1].lower()) for s in sorted({t.speaker for t in turns})))


def count_table(turns: list[Turn]) -> str:
    """Utterances per speaker and emotion code, with totals, as printable text."""
    counts = Counter((t.speaker, t.emotion) for t in turns)
    speakers = sorted({t.speaker for t in turns})
    codes = [c for c in EMOTION_CODES if any(t.emotion == c for t in turns)]
    rows = [f"{'speaker':8s}" + "".join(f"{c:>7s}" for c in codes) + f"{'total':>7s}"]
    for s in speakers:
        rows.append(f"{s:8s}" + "".join(f"{counts[s, c]:7d}" for c in codes)
                    + f"{sum(counts[s, c] for c in codes):7d}")
    rows.append(f"{'total':8s}" + "".join(f"{sum(counts[s, c] for s in speakers):7d}" for c in codes)
                + f"{len(turns):7d}")
    return "\n".join(rows)


def prepare_iemocap(iemocap_dir: str | os.PathLike, data_dir: str | os.PathLike,
                    print_counts: bool = True) -> dict[str, int]:
    """Write <data_dir>/iemocap (an SER data dir with IEMOCAP's emotion codes in utt2emo); returns the
    utterance counts per code."""
    root = find_iemocap_root(iemocap_dir)
    turns, wavs, texts, skipped = scan_iemocap(root)
    if not turns:
        raise AsrserError(f"{root}: no labelled utterances with audio found")
    out = Path(data_dir) / "iemocap"
    write_data_dir(turns, wavs, texts, out)
    counts = Counter(t.emotion for t in turns)
    note = f"; {sum(skipped.values())} skipped or incomplete ({dict(skipped)})" if skipped else ""
    log.info("%s: %d utterances of %d speakers (%s)%s", out, len(turns), len({t.speaker for t in turns}),
             " ".join(f"{c} {counts[c]}" for c in EMOTION_CODES if counts[c]), note)
    if print_counts:
        print(count_table(turns))
    return {c: counts[c] for c in EMOTION_CODES if counts[c]}


__all__ = ["prepare_iemocap", "read_emo_evaluation", "read_transcriptions", "find_iemocap_root", "TURN_LINE",
           "EMOTION_CODES"]
