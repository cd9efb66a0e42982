"""TIMIT data preparation (the LDC corpus, its lower-case and Kaggle `data/` copies, and mini-TIMIT alike).

Output, per split train / dev / test (Kaldi's egs/timit/s5 conventions):
  <data>/<split>/{wav.scp, text, utt2spk, spk2utt, spk2gender}   wav.scp names the SPHERE files directly
                                 (or, with a sample rate other than 16 kHz, resamples them through sox)
  <data>/<split>/ref_phones.ctm   reference segmentation, 48 labels: `utt 1 start duration phone` (seconds)
  <data>/<split>/text            48-phone sequences (61 -> 48 folding, q deleted)
Utterance ids are `<speaker>_<sentence>` in lower case (fadg0_si1279). SA sentences are excluded; train = every
TRAIN speaker, dev = the standard 50 speakers, test = the 24-speaker core test set (3696 / 400 / 192
utterances on the real corpus).

Bad input: a malformed .PHN (a negative time, times not increasing, gaps or overlaps, unknown label, a phone
past the end of the audio), a SPHERE header that disagrees with its file, one utterance found twice or a
speaker on both sides is an error naming the file and line. A last phone that ends at most 10 ms past the
audio is clipped to it, with a warning naming the file and line. A .PHN without its .WAV (or the reverse), or
one that holds nothing but glottal stops (q, deleted by the folding: no transcript), is skipped, logged and
counted, as Kaldi's preparation would leave such utterances out.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..audio import resampled_rxspec, sphere_layout
from ..data import write_spk2utt
from ..errors import AsrserError, AudioError, DataError
from ..fileio import read_table, write_ctm, write_key_value
from ..phones import read_phone_map, read_phone_set

log = logging.getLogger(__name__)

# TIMIT's conventions, in files as Kaldi's egs/timit/s5/conf keeps them (the recipes see them as conf/timit/):
# the 61 -> 48 -> 39 phone map and the standard 50-speaker dev and 24-speaker core test sets.
CONF_DIR = Path(__file__).parent / "conf" / "timit"
PHONE_MAP = CONF_DIR / "phones.60-48-39.map"
FOLD_61_TO_48 = read_phone_map(PHONE_MAP, 1, 2)      # q -> None: deleted
TIMIT61 = tuple(FOLD_61_TO_48)
PHONES48 = read_phone_set(PHONE_MAP, 2)


def read_speaker_list(path: Path) -> list[str]:
    """A speaker list (Kaldi's conf/dev_spk.list): one lower-case speaker id per line, in the file's order."""
    return [fields[0] for _, fields in read_table(path, min_fields=1, max_fields=1)]


DEV_SPEAKERS = read_speaker_list(CONF_DIR / "dev_spk.list")
CORE_TEST_SPEAKERS = read_speaker_list(CONF_DIR / "test_spk.list")   # 3 per dialect region, in region order
SAMPLE_RATE = 16000
MAX_END_OVERSHOOT = SAMPLE_RATE // 100   # a last phone ending up to 10 ms past the audio is clipped, not an error


@dataclass
class Utterance:
    id: str
    speaker: str
    gender: str
    wav: Path
    phn: Path
    segments: list[tuple[str, int, int]]   # TIMIT-61 (label, start, end) in samples
    num_samples: int


def _child(parent: Path, name: str) -> Path | None:
    """parent/name matched case-insensitively."""
    for entry in parent.iterdir():
        if entry.name.lower() == name.lower():
            return entry
    return None


def find_timit_root(path: str | os.PathLike) -> Path:
    """The directory holding TRAIN and TEST (any case), given it, its parent, or a Kaggle-style data/ parent."""
    path = Path(path)
    if not path.is_dir():
        raise AsrserError(f"{path}: TIMIT directory does not exist")
    for candidate in (path, path / "data", path / "TIMIT", path / "timit", path / "data" / "TIMIT"):
        if candidate.is_dir() and _child(candidate, "train") and _child(candidate, "test"):
            return candidate
    raise AsrserError(f"{path}: no TRAIN and TEST directories found (looked in it, data/ and TIMIT/)")


def read_phn(path: Path, num_samples: int | None = None) -> list[tuple[str, int, int]]:
    """A .PHN file: `start end label` lines, contiguous, increasing from 0 or later, TIMIT-61 labels, within
    the audio (a last phone ending up to MAX_END_OVERSHOOT samples past it is clipped, with a warning)."""
    segments: list[tuple[str, int, int]] = []
    text = path.read_text(encoding="ascii", errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3:
            raise DataError(path, f"expected 'start end label', found {line.strip()!r}", n)
        try:
            start, end = int(fields[0]), int(fields[1])
        except ValueError:
            raise DataError(path, f"start/end are not sample numbers: {line.strip()!r}", n) from None
        label = fields[2].lower()
        if label not in FOLD_61_TO_48:
            raise DataError(path, f"unknown phone label {fields[2]!r} (not one of the 61 TIMIT labels)", n)
        if start < 0:
            raise DataError(path, f"phone {label!r} starts at a negative sample ({start})", n)
        if end <= start:
            raise DataError(path, f"phone {label!r} ends ({end}) before it starts ({start})", n)
        if segments and start != segments[-1][2]:
            raise DataError(path, f"phone {label!r} starts at {start} but the previous one ended at "
                                  f"{segments[-1][2]} (segments must be contiguous)", n)
        segments.append((label, start, end))
        last_line = n
    if not segments:
        raise DataError(path, "no phones")
    label, start, end = segments[-1]
    if num_samples is not None and end > num_samples:
        past = end - num_samples
        if past > MAX_END_OVERSHOOT or start >= num_samples:
            raise DataError(path, f"last phone {label!r} ends at sample {end}, {past} samples past the audio's "
                                  f"{num_samples} (up to {MAX_END_OVERSHOOT} are clipped)", last_line)
        log.warning("%s:%d: last phone %r ends at sample %d, %d samples (%.1f ms) past the audio's %d; clipped to "
                    "the audio", path, last_line, label, end, past, 1000 * past / SAMPLE_RATE, num_samples)
        segments[-1] = (label, start, num_samples)
    return segments


def sphere_num_samples(path: Path) -> int:
    """Sample count from a SPHERE header, checked against the file size (without decoding the audio)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head.startswith(b"NIST_1A"):
        raise AudioError(None, str(path), "not a NIST SPHERE file (no NIST_1A header)")
    fields, held = sphere_layout(head, path.stat().st_size, str(path))
    if int(fields["sample_rate"]) != SAMPLE_RATE:
        raise AudioError(None, str(path), f"sample_rate {fields['sample_rate']} (TIMIT is {SAMPLE_RATE} Hz)")
    return held


def scan_speakers(root: Path, side: str, speakers: set[str] | None) -> tuple[list[Utterance], Counter]:
    """Non-SA utterances of the given speakers (all when None) on one side (TRAIN/TEST)."""
    side_dir = _child(root, side)
    if side_dir is None:
        raise AsrserError(f"{root}: no {side} directory")
    utts, skipped = [], Counter()
    seen: dict[str, Path] = {}
    for region in sorted(p for p in side_dir.iterdir() if p.is_dir() and p.name.lower().startswith("dr")):
        for spk_dir in sorted(p for p in region.iterdir() if p.is_dir()):
            spk = spk_dir.name.lower()
            if speakers is not None and spk not in speakers:
                continue
            files = {p.name.lower(): p for p in spk_dir.iterdir() if p.is_file()}
            stems = {n[:-4] for n in files if n.endswith((".phn", ".wav")) and not n.endswith(".wav.wav")}
            for stem in sorted(stems):
                if stem.startswith("sa"):
                    continue
                phn, wav = files.get(stem + ".phn"), files.get(stem + ".wav")
                if phn is None or wav is None:
                    missing = ".PHN" if phn is None else ".WAV"
                    log.warning("skipping %s/%s: no %s file", spk_dir, stem.upper(), missing)
                    skipped[f"no {missing}"] += 1
                    continue
                num_samples = sphere_num_samples(wav)
                segments = read_phn(phn, num_samples)
                if not fold_segments(segments):
                    log.warning("skipping %s/%s: %s holds only glottal stops (q), which the folding deletes: "
                                "no transcript", spk_dir, stem.upper(), phn)
                    skipped["only q"] += 1
                    continue
                utt = Utterance(f"{spk}_{stem}", spk, spk[0], wav, phn, segments, num_samples)
                if utt.id in seen:
                    raise DataError(phn, f"utterance {utt.id} is also in {seen[utt.id]} (a speaker found twice?)")
                seen[utt.id] = phn
                utts.append(utt)
    return utts, skipped


def fold_segments(segments: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """61 -> 48 labels; a deleted label's (q) time goes to the phone after it, or before it when silence
    (or nothing) follows.

    A glottal stop is the onset of the syllable it precedes (a vowel, or the syllabic nasal of "button"),
    and aligners without a q model put its time there; before a pause it ends the syllable before it (a
    glottalised final t)."""
    out: list[list] = []
    pending_start = None
    for label, start, end in segments:
        folded = FOLD_61_TO_48[label]
        if folded is None:
            if pending_start is None:
                pending_start = start
            continue
        if pending_start is not None and folded == "sil" and out:
            out[-1][2] = start
            pending_start = None
        out.append([folded, pending_start if pending_start is not None else start, end])
        pending_start = None
    if pending_start is not None and out:
        out[-1][2] = segments[-1][2]
    return [tuple(s) for s in out]


def split_speakers(root: Path) -> dict[str, tuple[str, set[str] | None]]:
    return {"train": ("train", None), "dev": ("test", set(DEV_SPEAKERS)), "test": ("test", set(CORE_TEST_SPEAKERS))}


def write_split(utts: list[Utterance], out: Path, sample_rate: int | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    utts = sorted(utts, key=lambda u: u.id)
    folded = {u.id: fold_segments(u.segments) for u in utts}
    wavs = {u.id: str(u.wav.resolve()) for u in utts}
    if sample_rate is not None and sample_rate != SAMPLE_RATE:
        wavs = {utt: resampled_rxspec(wav, sample_rate) for utt, wav in wavs.items()}
    write_key_value(out / "wav.scp", ((u.id, wavs[u.id]) for u in utts))
    write_key_value(out / "text", ((u.id, " ".join(p for p, _, _ in folded[u.id])) for u in utts))
    write_key_value(out / "utt2spk", ((u.id, u.speaker) for u in utts))
    write_spk2utt(out)
    write_key_value(out / "spk2gender", sorted({(u.speaker, u.gender) for u in utts}))
    write_ctm({u.id: [(p, a / SAMPLE_RATE, b / SAMPLE_RATE) for p, a, b in folded[u.id]] for u in utts},
              out / "ref_phones.ctm")


def prepare_timit(timit_dir: str | os.PathLike, data_dir: str | os.PathLike,
                  sample_rate: int | None = None) -> dict[str, int]:
    """Kaldi data dirs data/{train,dev,test} (+ reference segmentation); utterance counts. With a
    `sample_rate` other than TIMIT's 16 kHz, wav.scp resamples the audio with sox (e.g. 8000: narrowband models
    for telephone-band test audio); the segmentation stays in seconds."""
    root = find_timit_root(timit_dir)
    data_dir = Path(data_dir)
    counts = {}
    splits = split_speakers(root)
    scanned = {split: scan_speakers(root, side, speakers) for split, (side, speakers) in splits.items()}
    train_speakers = {u.speaker: u.phn.parent for u in scanned["train"][0]}
    shared = sorted({u.speaker for split in ("dev", "test") for u in scanned[split][0]} & set(train_speakers))
    if shared:
        raise AsrserError(f"{root}: speaker {shared[0]} is in both TRAIN ({train_speakers[shared[0]]}) and TEST"
                          f"{f' (and {len(shared) - 1} more)' if len(shared) > 1 else ''}: the test sets would "
                          "not be speaker-independent")
    for split, (side, speakers) in splits.items():
        utts, skipped = scanned[split]
        if not utts:
            raise AsrserError(f"{root}: no utterances for the {split} set")
        write_split(utts, data_dir / split, sample_rate)
        phones = Counter(p for u in utts for p, _, _ in fold_segments(u.segments))
        found = {u.speaker for u in utts}
        note = f", {sum(skipped.values())} skipped ({dict(skipped)})" if skipped else ""
        log.info("%s: %d utterances, %d speakers, %d phones (%d of the %d labels)%s", data_dir / split, len(utts),
                 len(found), sum(phones.values()), len(phones), len(PHONES48), note)
        if speakers is not None and len(found) < len(speakers):
            log.info("%s: %d of the %d standard %s speakers are present", data_dir / split, len(found),
                     len(speakers), split)
        counts[split] = len(utts)
    return counts


__all__ = ["CORE_TEST_SPEAKERS", "DEV_SPEAKERS", "TIMIT61", "prepare_timit", "read_phn", "fold_segments",
           "find_timit_root", "sphere_num_samples"]
