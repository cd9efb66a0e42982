"""MSP-IMPROV data preparation (the real release and mini-MSP-IMPROV alike) for speech emotion recognition.

Reads the recordings session<N>/S<nn><E>/<P|R|S|T>/MSP-IMPROV-S<nn><E>-<spk>-<P|R|S|T>-<dyad><kk>.wav (under
the given directory or its Audio/ folder) and the labels of Evaluation.txt (spelt Evalution.txt in some
releases; beside the sessions or one level up): blocks whose first line is

  UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:3.000000; V:2.000000; D:3.000000 ; N:4.000000;

(the recording, the raters' consensus code A H S N O X, mean arousal, valence, dominance, naturalness),
followed by one line per rater, which are skipped. Writes one Kaldi data dir:

  <data>/msp_improv/{wav.scp, utt2spk, spk2utt, spk2gender, utt2emo, utt2sess}

Speakers are the 12 actors F01..M06 (the speaker field of the name, whose number is the session);
utterance ids are <speaker>-<wav stem>; utt2sess holds session1..session6; utt2emo the corpus's own codes
(conf/msp_improv_emotions.map makes the four classes ang hap neu sad of them, O and X dropped). There is no
`text`: the corpus has no transcripts (only the target sentences of R and S recordings are known, from the
corpus paper), and SER does not need one.

Bad input: a label line that does not parse, an unknown code or a recording labelled twice is a DataError
naming the file and line; labels without a wav and wavs without a label are skipped, counted and logged with
an example; a wav at another sample rate than expected is an error naming it.
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

EMOTION_CODES = ("A", "H", "S", "N", "O", "X")
SESSIONS = (1, 2, 3, 4, 5, 6)
LABEL_FILE_NAMES = ("Evaluation.txt", "Evalution.txt")
# MSP-IMPROV-S01A-F01-P-FM01: target sentence and emotion, speaker (sex, session), recording kind, dyad+count
RECORDING_NAME = re.compile(r"^MSP-IMPROV-S(?P<sentence>\d\d)(?P<target>[AHSN])-(?P<speaker>(?P<sex>[FM])"
                            r"(?P<session>\d\d))-(?P<recording>[PRST])-(?P<rest>[A-Za-z0-9]+)$")
_NUMBER = r"(?:NaN|\d+(?:\.\d+)?)"
HEADER_LINE = re.compile(rf"^UTD-IMPROV-(?P<id>\S+)\.avi;\s*(?P<code>[^;\s]*)\s*;\s*A:(?P<a>{_NUMBER})\s*;\s*"
                         rf"V:(?P<v>{_NUMBER})\s*;\s*D:(?P<d>{_NUMBER})\s*;\s*N:(?P<n>{_NUMBER})\s*;?$")


@dataclass
class Recording:
    name: str             # MSP-IMPROV-S01A-F01-P-FM01 (the wav stem)
    speaker: str          # F01
    session: int
    recording: str        # P R S T
    emotion: str          # the consensus code
    source: str           # file:line, for messages

    @property
    def utt_id(self) -> str:
        return f"{self.speaker}-{self.name}"


def find_msp_root(path: str | os.PathLike) -> Path:
    """The directory holding session1..6: the given one, its Audio/ folder, or those under MSP-IMPROV/."""
    path = Path(path)
    if not path.is_dir():
        raise AsrserError(f"{path}: MSP-IMPROV directory does not exist")
    for candidate in (path, path / "Audio", path / "MSP-IMPROV", path / "MSP-IMPROV" / "Audio"):
        if any((candidate / f"session{k}").is_dir() for k in SESSIONS):
            return candidate
    raise AsrserError(f"{path}: no session1..session6 directories found (looked in it, in Audio/ and in "
                      "MSP-IMPROV/)")


def find_label_file(root: Path) -> Path:
    """Evaluation.txt (or the misspelt Evalution.txt) beside the sessions or one level up."""
    for folder in (root, root.parent):
        for name in LABEL_FILE_NAMES:
            if (folder / name).is_file():
                return folder / name
    raise AsrserError(f"{root}: no label file {' or '.join(LABEL_FILE_NAMES)} in it or in {root.parent}")


def read_evaluation(path: str | os.PathLike) -> list[Recording]:
    """The labelled recordings of an Evaluation.txt; rater lines and blank lines are skipped."""
    path = Path(path)
    recordings, seen = [], {}
    for n, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line.startswith("UTD-"):
            continue          # a rater line (`<rater>; Angry; ...; A:..; ...`) or a blank one
        m = HEADER_LINE.match(line)
        if m is None:
            raise DataError(path, "label line does not parse (expected 'UTD-IMPROV-<name>.avi; <code>; A:..; "
                                  f"V:..; D:.. ; N:..;'): {line!r}", n)
        name = "MSP-IMPROV-" + m["id"]
        if m["code"] not in EMOTION_CODES:
            raise DataError(path, f"unknown emotion code {m['code']!r} for {name} (known: "
                                  f"{' '.join(EMOTION_CODES)})", n)
        parts = RECORDING_NAME.match(name)
        if parts is None:
            raise DataError(path, f"recording name {name!r} does not say its speaker and kind (expected e.g. "
                                  "UTD-IMPROV-S01A-F01-P-FM01.avi)", n)
        if name in seen:
            raise DataError(path, f"{name} is labelled twice (first at line {seen[name]})", n)
        seen[name] = n
        recordings.append(Recording(name, parts["speaker"], int(parts["session"]), parts["recording"],
                                    m["code"], f"{path}:{n}"))
    return recordings


def find_wavs(root: Path) -> dict[str, Path]:
    """stem -> path of every recording session<N>/<scenario>/<kind>/*.wav ('._' resource forks left out)."""
    wavs = {}
    for k in SESSIONS:
        for wav in sorted((root / f"session{k}").glob("*/*/*.wav")):
            if not wav.name.startswith("."):
                wavs[wav.stem] = wav
    return wavs


def _other_rates(wavs: list[Path], sample_rate: int, resample: bool) -> set[Path]:
    """The wavs not at sample_rate (to be read through sox when resample is set; an error naming the first
    one otherwise)."""
    import soundfile

    other = set()
    for wav in wavs:
        try:
            rate = soundfile.info(str(wav)).samplerate
        except RuntimeError as e:
            raise AsrserError(f"{wav}: not a readable audio file ({e})") from None
        if rate != sample_rate:
            if not resample:
                raise AsrserError(f"{wav}: sample rate is {rate} Hz, expected {sample_rate} Hz (--resample reads "
                                  f"it through sox at {sample_rate} Hz; or prepare it with --sample-rate {rate} "
                                  f"and a feature config for that rate)")
            other.add(wav)
    return other


def scan_msp_improv(root: Path, label_file: Path) -> tuple[list[Recording], dict[str, Path], Counter]:
    """(labelled recordings with audio, wav per recording, skip counts), with a warning per kind of skip."""
    labels = read_evaluation(label_file)
    wavs = find_wavs(root)
    kept = [r for r in labels if r.name in wavs]
    skipped = Counter()
    no_wav = [r for r in labels if r.name not in wavs]
    if no_wav:
        skipped["label without wav"] = len(no_wav)
        log.warning("%d labelled recordings have no wav under %s and are skipped (e.g. %s at %s)", len(no_wav),
                    root, no_wav[0].name, no_wav[0].source)
    labelled = {r.name for r in labels}
    no_label = [stem for stem in wavs if stem not in labelled]
    if no_label:
        skipped["wav without label"] = len(no_label)
        log.warning("%d wavs have no label in %s and are skipped (e.g. %s)", len(no_label), label_file,
                    wavs[no_label[0]])
    return kept, {r.name: wavs[r.name] for r in kept}, skipped


def write_data_dir(recordings: list[Recording], wavs: dict[str, Path], out: Path,
                   resample: tuple[set[Path], int] = (set(), 0)) -> None:
    """The data dir; wavs of resample[0] are read through a sox pipe at resample[1] Hz (Kaldi's wav.scp
    convention)."""
    import shlex

    def rxspec(wav: Path) -> str:
        path = str(wav.resolve())
        return f"sox {shlex.quote(path)} -r {resample[1]} -t wav - |" if wav in resample[0] else path

    recordings = sorted(recordings, key=lambda r: r.utt_id)
    out.mkdir(parents=True, exist_ok=True)
    write_key_value(out / "wav.scp", ((r.utt_id, rxspec(wavs[r.name])) for r in recordings))
    write_key_value(out / "utt2spk", ((r.utt_id, r.speaker) for r in recordings))
    write_key_value(out / "utt2emo", ((r.utt_id, r.emotion) for r in recordings))
    write_key_value(out / "utt2sess", ((r.utt_id, f"session{r.session}") for r in recordings))
    write_spk2utt(out)
    write_key_value(out / "spk2gender", ((s, s[0].lower()) for s in sorted({r.speaker for r in recordings})))


def count_table(recordings: list[Recording]) -> str:
    """Utterances per speaker and emotion code, with totals, as printable text."""
    counts = Counter((r.speaker, r.emotion) for r in recordings)
    speakers = sorted({r.speaker for r in recordings})
    codes = [c for c in EMOTION_CODES if any(r.emotion == c for r in recordings)]
    rows = [f"{'speaker':8s}" + "".join(f"{c:>6s}" for c in codes) + f"{'total':>7s}"]
    for s in speakers:
        rows.append(f"{s:8s}" + "".join(f"{counts[s, c]:6d}" for c in codes)
                    + f"{sum(counts[s, c] for c in codes):7d}")
    rows.append(f"{'total':8s}" + "".join(f"{sum(counts[s, c] for s in speakers):6d}" for c in codes)
                + f"{len(recordings):7d}")
    return "\n".join(rows)


def prepare_msp_improv(msp_dir: str | os.PathLike, data_parent: str | os.PathLike, sample_rate: int = 16000,
                       print_counts: bool = True, resample: bool = False) -> dict[str, int]:
    """Write <data_parent>/msp_improv (an SER data dir with MSP-IMPROV's codes in utt2emo); returns the
    utterance counts per code. Audio at another rate than sample_rate is an error, or with resample read
    through sox at sample_rate."""
    root = find_msp_root(msp_dir)
    label_file = find_label_file(root)
    recordings, wavs, skipped = scan_msp_improv(root, label_file)
    if not recordings:
        raise AsrserError(f"{root}: no labelled recordings with audio found (labels: {label_file})")
    other = _other_rates([wavs[r.name] for r in recordings], sample_rate, resample)
    if other:
        log.info("%d of %d wavs are not at %d Hz: read through sox at that rate", len(other), len(recordings),
                 sample_rate)
    out = Path(data_parent) / "msp_improv"
    write_data_dir(recordings, wavs, out, (other, sample_rate))
    counts = Counter(r.emotion for r in recordings)
    note = f"; {sum(skipped.values())} skipped ({dict(skipped)})" if skipped else ""
    log.info("%s: %d utterances of %d speakers (%s)%s", out, len(recordings), len({r.speaker for r in recordings}),
             " ".join(f"{c} {counts[c]}" for c in EMOTION_CODES if counts[c]), note)
    if print_counts:
        print(count_table(recordings))
    return {c: counts[c] for c in EMOTION_CODES if counts[c]}


__all__ = ["prepare_msp_improv", "read_evaluation", "find_msp_root", "find_label_file", "EMOTION_CODES",
           "HEADER_LINE", "RECORDING_NAME"]
