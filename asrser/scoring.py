"""Phone error rate from a decode's lattices with NIST sclite (Debian's sctk), as Kaldi's TIMIT recipe scores.

Hypotheses: for every LM weight, the best path of each lattice of the decode dir (lat.*.gz through num_jobs)
at acoustic scale 1/LMWT (Kaldi's lattice-scale --inv-acoustic-scale=LMWT | lattice-best-path), written as
<decode>/scoring/<LMWT>.txt (words) and <decode>/scoring/<LMWT>.ctm (words with times: on a phone lang every
word is one phone, timed by the path's alignment, as lattice-align-phones + lattice-to-ctm-conf do on the
best path). Scoring again reads the lattices: other LM weights, a new scoring, never a new decode.
Hypotheses from elsewhere (no lattices) are read from <decode>/hyp/<LMWT>.<job>.txt.

Two scorings, both run by default:
- `sclite`, Kaldi's egs/timit/s5/local/score.sh (score_sclite.sh), the PER reported: the reference STM
  (<data>/stm, as Kaldi's TIMIT data preparation writes it, or made from <data>/text) and the hypothesis CTM
  mapped (48 -> 39 phones for TIMIT), the reference silence made optional ("(sil)", Kaldi's
  `sed 's: sil: (sil):g'`), scored by sclite as hubscr.pl runs it (-F -D; its GLM filter leaves phones as
  they are): <decode>/score_<LMWT>/ctm_39phn.{sys,raw,pra,dtl}.
- `basic`, Kaldi's local/score_basic.sh: the texts mapped, silence scored as a phone, sclite on trn files:
  <decode>/wer_<LMWT> (compute-wer's lines) and <decode>/scoring/score_basic_<LMWT>/39phn.{sys,raw,pra,dtl}.

Word tasks (a word lang, no phone map: `scoring_unit`) are scored as Kaldi's steps/score_kaldi.sh scores them
instead: the reference <decode>/scoring_kaldi/test_filt.txt, per word insertion penalty WIP and LM weight the
best path's words <decode>/scoring_kaldi/penalty_<WIP>/<LMWT>.txt (lattice-add-penalty after lattice-scale),
sclite's reports in scoring_kaldi/penalty_<WIP>/score_<LMWT>/, compute-wer's lines in <decode>/wer_<LMWT>_<WIP>,
the best of them in scoring_kaldi/best_wer (utils/best_wer.sh's line: `best_wer_line`), its weight and penalty
in scoring_kaldi/wer_details/{lmwt,wip}.

Per phone scoring, the per-weight table goes to <decode>/scoring/per_by_lmwt (basic: per_by_lmwt_basic), the
decode's own best weight to scoring/best_per (best_per_basic) as a `%WER` line that Kaldi's
utils/best_wer.sh reads, and what the scored set holds (utterances left out and why, partial decodes) to
scoring/scored_set.json.

The LM weight is a tuned parameter: every set of a system is reported at the weight with the lowest PER on
the system's dev decode (`TUNING_SET`), so that no test figure is tuned on test; the set's own best weight
(best_per) is the oracle that Kaldi's RESULTS quote. `set_per` is that choice, used by every table.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import AsrserError, DataError
from .fileio import atomic_write, read_table
from .hmm.phone_sets import base_phone

log = logging.getLogger(__name__)

SCORINGS = ("sclite", "basic")      # Kaldi's score_sclite.sh (the PER reported) and score_basic.sh
SCORING_UNITS = ("phone", "word")   # PER (Kaldi's TIMIT scoring) or WER (Kaldi's steps/score_kaldi.sh)
DEFAULT_WORD_INS_PENALTIES = (0.0, 0.5, 1.0)    # score_kaldi.sh's word_ins_penalty
FRAME_SHIFT = 0.01                  # lattice-to-ctm-conf --frame-shift
OPTIONAL_SILENCE = "sil"            # the reference's silence, optional in the sclite scoring


@dataclass
class ScliteResult:
    lmwt: float
    utterances: int
    ref_words: int
    correct: int
    substitutions: int
    deletions: int
    insertions: int
    errors: int

    @property
    def error_rate(self) -> float:
        return 100.0 * self.errors / max(self.ref_words, 1)

    def wer_line(self, where: str | os.PathLike | None = None) -> str:
        """compute-wer's line, which Kaldi's utils/best_wer.sh reads ([WS]ER <rate>), and where it comes from."""
        return (f"%WER {self.error_rate:.2f} [ {self.errors} / {self.ref_words}, {self.insertions} ins, "
                f"{self.deletions} del, {self.substitutions} sub ]" + (f" {where}" if where is not None else ""))


def sclite_command() -> list[str]:
    if shutil.which("sclite"):
        return ["sclite"]
    if shutil.which("sctk"):
        return ["sctk", "sclite"]
    raise AsrserError("sclite not found: install the Debian package 'sctk' (apt-get install sctk)")


def map_phones(phones: list[str], phone_map: dict[str, str | None] | None, drop: set[str]) -> list[str]:
    """Phones through a scoring map (a phone missing from it stays itself), minus `drop`. With a map, a
    word-position-dependent phone the map lacks is scored as its base phone (AA_B as AA)."""
    out = []
    for p in phones:
        q = phone_map.get(p, phone_map.get(base_phone(p), base_phone(p))) if phone_map else p
        if q is not None and q not in drop:
            out.append(q)
    return out


def write_trn(path: Path, transcripts: dict[str, list[str]]) -> None:
    with atomic_write(path) as f:
        for utt, phones in sorted(transcripts.items()):
            f.write(f"{' '.join(phones)} ({utt})\n")


def read_transcripts(path: Path) -> dict[str, list[str]]:
    return {fields[0]: fields[1:] for _, fields in read_table(path, min_fields=1)}


def run_sclite(ref: Path, hyp: Path, out_dir: Path, name: str, ref_format: str = "trn",
               hyp_format: str = "trn") -> None:
    """sclite on a trn pair (score_basic), or on an STM reference and a CTM hypothesis with hubscr.pl's options
    (-F: fragments, -D: optionally deletable words, the "(sil)" of the reference)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    options = ["-i", "rm"] if ref_format == "trn" else ["-F", "-D"]
    cmd = sclite_command() + ["-r", str(ref), ref_format, "-h", str(hyp), hyp_format, *options,
                              "-o", "sum", "rsum", "pra", "dtl", "-n", name, "-O", str(out_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AsrserError(f"sclite failed on {hyp} (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")


_RAW_SUM = re.compile(r"^\|\s*Sum\s*\|\s*(\d+)\s+(\d+)\s*\|\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s*\|")


def parse_raw_sum(path: Path, lmwt: float) -> ScliteResult:
    """Counts from sclite's `.raw` report (rsum): the Sum line's sentences, words, corr/sub/del/ins/err."""
    for line in path.read_text().splitlines():
        m = _RAW_SUM.match(line.strip())
        if m:
            return ScliteResult(lmwt, *(int(m.group(i)) for i in range(1, 8)))
    raise DataError(path, "no Sum line in sclite's raw report")


TUNING_SET = "dev"          # <system>/decode_<TUNING_SET> chooses the LM weight of all of <system>'s sets
PER_BY_LMWT_HEADER = "# LMWT PER% ref_phones sub del ins utterances"
DEFAULT_LM_WEIGHTS = tuple(float(w) for w in range(1, 11))      # Kaldi's score.sh: --min-lmwt 1 --max-lmwt 10


def scoring_suffix(scoring: str) -> str:
    """'' for the sclite scoring (per_by_lmwt, best_per), '_basic' for score_basic (per_by_lmwt_basic, ...)."""
    if scoring not in SCORINGS:
        raise AsrserError(f"unknown scoring {scoring!r} ({' or '.join(SCORINGS)})")
    return "" if scoring == "sclite" else f"_{scoring}"


# -- hypotheses ----------------------------------------------------------------------------------------------------
@dataclass
class Hypotheses:
    """Per LM weight and utterance: the words, and each word's (start, duration) in seconds."""
    words: dict[float, dict[str, list[str]]]
    times: dict[float, dict[str, list[tuple[float, float]]]]


def lattice_hypotheses(decode_dir: str | os.PathLike, words_txt: str | os.PathLike, model: str | os.PathLike,
                       lm_weights=DEFAULT_LM_WEIGHTS) -> Hypotheses:
    """The best path of every lattice of a decode dir per LM weight, with word times, written to
    <decode>/scoring/<LMWT>.txt and <LMWT>.ctm (`utt 1 start duration word`).

    Times: on a phone lang each word is one phone, and the path's phones (ali-to-phones on its transition-ids)
    time the words, as lattice-align-phones does; with other lexicons (the words not one per phone) a word
    spans from the frame its lattice arc starts to the next word's."""
    from .hmm.model import HmmModel
    from .hmm.tables import alignment_to_phone_segments, tid_tables
    from .kaldi_format import read_lattices, read_num_jobs
    from .lang import read_symbol_table

    decode_dir = Path(decode_dir)
    id2word = {i: w for w, i in read_symbol_table(words_txt).items()}
    phone_of, state_of = tid_tables(HmmModel.load(model))
    weights = [float(w) for w in lm_weights]
    hyps = Hypotheses({w: {} for w in weights}, {w: {} for w in weights})
    for job in range(1, read_num_jobs(decode_dir) + 1):
        path = decode_dir / f"lat.{job}.gz"
        for utt, lattice in read_lattices(path):
            for w in weights:
                best = lattice.best_path(acoustic_scale=1.0 / w, source=f"{path}, entry {utt}")
                if best is None:
                    hyps.words[w][utt], hyps.times[w][utt] = [], []
                    continue
                try:
                    words = [id2word[i] for i in best.words]
                except KeyError as e:
                    raise DataError(path, f"entry {utt}: word id {e.args[0]} is not in {words_txt}") from None
                if best.transition_ids and max(best.transition_ids) >= len(phone_of):
                    raise DataError(path, f"entry {utt}: transition-id {max(best.transition_ids)} is not in the "
                                          f"model {model}: lattices of another model")
                segments = alignment_to_phone_segments(phone_of, state_of, best.transition_ids)
                if len(segments) == len(words):
                    starts = [0]
                    for _, n in segments:
                        starts.append(starts[-1] + n)
                else:
                    starts = [*best.word_frames, len(best.transition_ids)]
                hyps.words[w][utt] = words
                hyps.times[w][utt] = [(FRAME_SHIFT * a, FRAME_SHIFT * (b - a)) for a, b in zip(starts, starts[1:])]
    scoring = decode_dir / "scoring"
    scoring.mkdir(parents=True, exist_ok=True)
    for w in weights:
        with atomic_write(scoring / f"{w:g}.txt") as f:
            f.writelines(" ".join([utt, *words]) + "\n" for utt, words in sorted(hyps.words[w].items()))
        with atomic_write(scoring / f"{w:g}.ctm") as f:
            for utt in sorted(hyps.words[w]):
                for word, (start, dur) in zip(hyps.words[w][utt], hyps.times[w][utt]):
                    f.write(f"{utt} 1 {start:.2f} {dur:.2f} {word}\n")
    return hyps


def hyp_files_by_weight(hyp_dir: Path) -> dict[float, list[Path]]:
    """hyp/<lmwt>.<job>.txt grouped by their exact LM weight: 1, 1.5 and 10 are three weights."""
    groups: dict[float, list[Path]] = {}
    for path in sorted(hyp_dir.glob("*.txt")):
        weight, _, job = path.name.removesuffix(".txt").rpartition(".")
        try:
            groups.setdefault(float(weight), []).append(path)
            int(job)
        except ValueError:
            raise DataError(path, "not a hypothesis file name <lmwt>.<job>.txt") from None
    return dict(sorted(groups.items()))


def text_hypotheses(decode_dir: Path) -> Hypotheses:
    """Hypotheses from elsewhere, <decode>/hyp/<lmwt>.<job>.txt, without times: each word gets a nominal frame
    in order (the STM holds one segment per utterance, so sclite aligns them by order alone)."""
    files = hyp_files_by_weight(decode_dir / "hyp")
    if not files:
        raise AsrserError(f"{decode_dir}: no lattices (lat.*.gz with num_jobs) and no hypotheses (hyp/*.txt) "
                          "to score")
    hyps = Hypotheses({w: {} for w in files}, {w: {} for w in files})
    for w, parts in files.items():
        for part in parts:
            for utt, words in read_transcripts(part).items():
                hyps.words[w][utt] = words
                hyps.times[w][utt] = [(FRAME_SHIFT * i, FRAME_SHIFT) for i in range(len(words))]
    return hyps


# -- references -----------------------------------------------------------------------------------------------------
_STM_HEADER = ';; LABEL "O" "Overall" "Overall"\n;; LABEL "F" "Female" "Female speakers"\n' \
              ';; LABEL "M" "Male" "Male speakers"\n'


def read_stm(path: Path) -> dict[str, tuple[str, str, float, float, str, list[str]]]:
    """A Kaldi TIMIT data dir's stm: utt -> (channel, speaker, start, end, label, words), one segment each."""
    segments = {}
    for n, fields in read_table(path, min_fields=6):
        if fields[0].startswith(";;"):
            continue
        try:
            segments[fields[0]] = (fields[1], fields[2], float(fields[3]), float(fields[4]), fields[5], fields[6:])
        except ValueError:
            raise DataError(path, "expected 'utt channel speaker start end <label> words...'", n) from None
    return segments


def write_stm(path: str | os.PathLike, segments: dict[str, tuple[str, str, float, float, str, list[str]]]) -> None:
    """An STM in the form of Kaldi's TIMIT data preparation (its LABEL lines, one segment per utterance)."""
    with atomic_write(path) as f:
        f.write(_STM_HEADER)
        for utt, (channel, spk, start, end, label, words) in sorted(segments.items()):
            f.write(f"{utt} {channel} {spk} {start:.1f} {end:f} {label} {' '.join(words)}\n")


def _reference_segments(data_dir: Path, refs: dict[str, list[str]], ends: dict[str, float]
                        ) -> dict[str, tuple[str, str, float, float, str, list[str]]]:
    """<data>/stm when present (its words as given), else one segment per utterance of `refs`, speaker from
    utt2spk, end from utt2dur or utt2num_frames, or the hypotheses' last word."""
    from .fileio import read_key_value

    if (data_dir / "stm").exists():
        return read_stm(data_dir / "stm")
    utt2spk = read_key_value(data_dir / "utt2spk") if (data_dir / "utt2spk").exists() else {}
    durations = {}
    if (data_dir / "utt2dur").exists():
        durations = {u: float(d) for u, d in read_key_value(data_dir / "utt2dur").items()}
    elif (data_dir / "utt2num_frames").exists():
        durations = {u: FRAME_SHIFT * int(n) + 0.015 for u, n in read_key_value(data_dir / "utt2num_frames").items()}
    return {utt: ("1", utt2spk.get(utt, utt.split("_")[0]), 0.0, max(durations.get(utt, 0.0), ends.get(utt, 0.0)),
                  "<O>", words) for utt, words in refs.items()}


# -- scoring --------------------------------------------------------------------------------------------------------
def score_decode(decode_dir: str | os.PathLike, ref_text: str | os.PathLike,
                 phone_map: dict[str, str | None] | None = None, drop: frozenset[str] = frozenset(),
                 name: str = "39phn", *, words_txt: str | os.PathLike | None = None,
                 model: str | os.PathLike | None = None, lm_weights=DEFAULT_LM_WEIGHTS,
                 scorings: tuple[str, ...] = SCORINGS, unit: str = "phone",
                 word_ins_penalties: Iterable[float] = DEFAULT_WORD_INS_PENALTIES) -> ScliteResult:
    """Score a decode dir against the data dir of `ref_text` with every scoring of `scorings` (Kaldi's
    score_sclite.sh and score_basic.sh); return the best weight of the first. With unit "word", the WER as
    Kaldi's score_kaldi.sh computes it instead (score_words; phone_map, drop, name and scorings unused).

    Hypotheses come from the decode's lattices (words_txt and the model needed: lattice_hypotheses), or from
    <decode>/hyp/ when it has none. The scored set is every utterance of `ref_text` that was decoded; one
    without a hypothesis (not decoded: it had no features) is left out, as are those removed from the data dir
    for unreadable audio (<data>/bad_utts); both are logged and recorded in scoring/scored_set.json with the
    decoder's utterances without a final state or path."""
    from .hmm.decode import decode_counts

    if unit not in SCORING_UNITS:
        raise AsrserError(f"unknown scoring unit {unit!r} ({' or '.join(SCORING_UNITS)})")
    if unit == "word":
        return score_words(decode_dir, ref_text, words_txt=words_txt, lm_weights=lm_weights,
                           word_ins_penalties=word_ins_penalties)
    decode_dir, ref_text = Path(decode_dir), Path(ref_text)
    scoring = decode_dir / "scoring"
    scoring.mkdir(parents=True, exist_ok=True)
    if (decode_dir / "num_jobs").exists():
        if words_txt is None or model is None:
            raise AsrserError(f"{decode_dir}: scoring its lattices needs the graph's words.txt and the model")
        hyps = lattice_hypotheses(decode_dir, words_txt, model, lm_weights)
    else:
        hyps = text_hypotheses(decode_dir)
    refs = read_transcripts(ref_text)
    decoded = set().union(*hyps.words.values())
    scored_refs = _scored_references(decode_dir, ref_text, refs, decoded)
    for w, by_utt in hyps.words.items():
        lacking = decoded - set(by_utt)       # one weight's files lack utterances the others have
        if lacking:
            raise AsrserError(f"{decode_dir}: LM weight {w:g} has no hypothesis for {len(lacking)} decoded "
                              f"utterance(s), e.g. {min(lacking)}")
    best = None
    for kind in scorings:
        results = (_score_sclite if kind == "sclite" else _score_basic)(
            decode_dir, ref_text, scored_refs, hyps, phone_map, drop, name)
        best_here = _write_summaries(decode_dir, kind, results, name)
        best = best or best_here
    _write_scored_set(decode_dir, ref_text, refs, decoded, decode_counts(decode_dir))
    log.info("%s: %d utterances scored, best PER %.2f%% at LM weight %g (%s)", decode_dir, len(scored_refs),
             best.error_rate, best.lmwt, scorings[0])
    return best


def score_silence_only(ref_text: str | os.PathLike, out_dir: str | os.PathLike,
                       phone_map: dict[str, str | None] | None = None, name: str = "39phn",
                       silence: str = OPTIONAL_SILENCE) -> ScliteResult:
    """The PER of a recogniser that outputs silence alone for every utterance of `ref_text` (the floor a real
    system must beat): <out_dir>/hyp/1.1.txt, scored by score_decode as any decode (both scorings)."""
    out_dir = Path(out_dir)
    utts = sorted(read_transcripts(Path(ref_text)))
    if not utts:
        raise DataError(ref_text, "no utterances")
    hyp_file = out_dir / "hyp" / "1.1.txt"
    hyp_file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(hyp_file) as f:
        f.writelines(f"{utt} {silence}\n" for utt in utts)
    return score_decode(out_dir, ref_text, phone_map, name=name, lm_weights=[1.0])


def _scored_references(decode_dir: Path, ref_text: Path, refs: dict[str, list[str]], decoded: set[str]
                       ) -> dict[str, list[str]]:
    """The references of the decoded utterances (compute-wer --mode=present); an error for a hypothesis without
    reference, or when nothing was decoded."""
    unknown = decoded - set(refs)
    if unknown:
        raise AsrserError(f"{decode_dir}: hypotheses for utterances without reference in {ref_text}, "
                          f"e.g. {min(unknown)}")
    scored = {u: words for u, words in refs.items() if u in decoded}
    if not scored:
        raise AsrserError(f"{decode_dir}: no hypothesis for any utterance of {ref_text}")
    return scored


def _score_basic(decode_dir: Path, ref_text: Path, refs: dict[str, list[str]], hyps: Hypotheses,
                 phone_map, drop, name: str) -> list[ScliteResult]:
    """score_basic.sh: the texts mapped, silence a phone like any other; trn files scored by sclite; wer_LMWT."""
    scoring = decode_dir / "scoring"
    ref_trn = scoring / f"ref.{name}.trn"
    write_trn(ref_trn, {u: map_phones(p, phone_map, drop) for u, p in refs.items()})
    results = []
    for w, by_utt in hyps.words.items():
        out = scoring / f"score_basic_{w:g}"
        hyp_trn = out / f"hyp.{name}.trn"
        out.mkdir(parents=True, exist_ok=True)
        write_trn(hyp_trn, {u: map_phones(p, phone_map, drop) for u, p in by_utt.items()})
        run_sclite(ref_trn, hyp_trn, out, name)
        result = parse_raw_sum(out / f"{name}.raw", w)
        results.append(result)
        _write_compute_wer(decode_dir / f"wer_{w:g}", result, _sentence_errors(refs, by_utt, phone_map, drop))
    return results


def _write_compute_wer(path: Path, result: ScliteResult, sentence_error_rate: float) -> None:
    """compute-wer --text --mode=present's report."""
    with atomic_write(path) as f:
        f.write(f"{result.wer_line()}\n%SER {100.0 * sentence_error_rate:.2f}\n"
                f"Scored {result.utterances} sentences, 0 not present in hyp.\n")


def _sentence_errors(refs, hyps, phone_map, drop) -> float:
    wrong = sum(map_phones(hyps[u], phone_map, drop) != map_phones(p, phone_map, drop) for u, p in refs.items())
    return wrong / max(len(refs), 1)


def _score_sclite(decode_dir: Path, ref_text: Path, refs: dict[str, list[str]], hyps: Hypotheses,
                  phone_map, drop, name: str) -> list[ScliteResult]:
    """score_sclite.sh: STM reference (mapped, silence optional) and CTM hypotheses (mapped), sclite per LM
    weight into <decode>/score_<LMWT>/ctm_<name>.*."""
    scoring = decode_dir / "scoring"
    ends = {}
    for by_utt in hyps.times.values():
        for utt, times in by_utt.items():
            if times:
                ends[utt] = max(ends.get(utt, 0.0), times[-1][0] + times[-1][1])
    segments = _reference_segments(ref_text.parent, refs, ends)
    missing = sorted(set(refs) - set(segments))
    if missing:
        raise DataError(ref_text.parent / "stm", f"no segment for {len(missing)} scored utterance(s), e.g. "
                                                 f"{missing[0]} (an stm of another data dir?)")
    stm = {}
    for utt in refs:
        channel, spk, start, end, label, words = segments[utt]
        mapped = map_phones(words, phone_map, drop)
        stm[utt] = (channel, spk, start, end, label,
                    [f"({p})" if p == OPTIONAL_SILENCE else p for p in mapped])
    stm_path = scoring / f"stm_{name}"
    write_stm(stm_path, stm)
    results = []
    for w, by_utt in hyps.words.items():
        ctm = scoring / f"{w:g}.ctm_{name}"
        with atomic_write(ctm) as f:
            for utt in sorted(by_utt):
                for word, (start, dur) in zip(by_utt[utt], hyps.times[w][utt]):
                    mapped = map_phones([word], phone_map, drop)
                    if mapped:
                        f.write(f"{utt} 1 {start:.2f} {dur:.2f} {mapped[0]}\n")
        out = decode_dir / f"score_{w:g}"
        run_sclite(stm_path, ctm, out, f"ctm_{name}", "stm", "ctm")
        results.append(parse_raw_sum(out / f"ctm_{name}.raw", w))
    return results


def _write_summaries(decode_dir: Path, kind: str, results: list[ScliteResult], name: str) -> ScliteResult:
    scoring, suffix = decode_dir / "scoring", scoring_suffix(kind)
    best = best_weight(results)
    with atomic_write(scoring / f"per_by_lmwt{suffix}") as f:
        f.write(PER_BY_LMWT_HEADER + "\n")
        for r in results:
            f.write(f"{r.lmwt:g} {r.error_rate:.2f} {r.ref_words} {r.substitutions} {r.deletions} {r.insertions} "
                    f"{r.utterances}\n")
    report = (decode_dir / f"score_{best.lmwt:g}" / f"ctm_{name}.sys" if kind == "sclite"
              else decode_dir / f"wer_{best.lmwt:g}")
    with atomic_write(scoring / f"best_per{suffix}") as f:
        f.write(best.wer_line(report) + "\n")
    return best


def _write_scored_set(decode_dir: Path, ref_text: Path, refs: dict, decoded: set, counts: dict) -> None:
    left_out = {}
    bad_audio = ref_text.parent / "bad_utts"       # removed from the data dir by feature extraction
    unreadable = sorted(bad_audio.read_text().split()) if bad_audio.exists() else []
    if unreadable:
        left_out[f"unreadable audio ({bad_audio})"] = unreadable
    not_decoded = sorted(set(refs) - decoded)
    if not_decoded:
        left_out["not decoded (no features)"] = not_decoded
    scored_set = {"reference": len(refs) + len(unreadable), "scored": len(set(refs) & decoded),
                  "left_out": left_out}
    if counts:                                  # the decoder's counts (absent for hypotheses from elsewhere)
        scored_set.update(no_final_state_at_beam=counts["retried"], partial=counts["partial_utts"],
                          no_path=counts["failed_utts"])
    with atomic_write(decode_dir / "scoring" / "scored_set.json") as f:
        json.dump(scored_set, f, indent=1)
    for reason, utts in left_out.items():
        log.warning("%s: %d utterance(s) of %s left out of the scored set: %s (e.g. %s)", decode_dir, len(utts),
                    ref_text, reason, ", ".join(utts[:3]))


# -- word scoring (Kaldi's steps/score_kaldi.sh) -------------------------------------------------------------------
def scoring_unit(unit: str | None, phone_map: dict | None, graph_dir: str | os.PathLike | None = None) -> str:
    """The unit a decode is scored in: `unit` when given, else phones when there is a phone map or the graph's
    words are all phones (a phone-as-word lang, as TIMIT's), words otherwise."""
    from .lang import read_symbol_table

    if unit is not None:
        if unit not in SCORING_UNITS:
            raise AsrserError(f"unknown scoring unit {unit!r} ({' or '.join(SCORING_UNITS)})")
        return unit
    if phone_map or graph_dir is None:
        return "phone"
    words, phones = Path(graph_dir) / "words.txt", Path(graph_dir) / "phones.txt"
    if not words.exists() or not phones.exists():
        return "phone"
    real_words = {w for w in read_symbol_table(words) if not w.startswith(("#", "<")) and w != "</s>"}
    return "phone" if real_words <= set(read_symbol_table(phones)) else "word"


def penalty_name(penalty: float) -> str:
    """A word insertion penalty as score_kaldi.sh's file names spell it: 0.0, 0.5, 1.0."""
    return str(float(penalty))


def word_hypotheses(decode_dir: str | os.PathLike, words_txt: str | os.PathLike, lm_weights: Iterable[float],
                    penalties: Iterable[float]) -> dict[tuple[float, float], dict[str, list[str]]]:
    """Per (LM weight, word insertion penalty), the words of each lattice's best path: lattice-scale
    --inv-acoustic-scale=LMWT | lattice-add-penalty --word-ins-penalty=WIP | lattice-best-path."""
    from .kaldi_format import read_lattices, read_num_jobs
    from .kaldi_format.lattice import CompactLattice
    from .lang import read_symbol_table

    decode_dir = Path(decode_dir)
    id2word = {i: w for w, i in read_symbol_table(words_txt).items()}
    weights, penalties = [float(w) for w in lm_weights], [float(p) for p in penalties]
    out: dict[tuple[float, float], dict[str, list[str]]] = {(w, p): {} for p in penalties for w in weights}
    for job in range(1, read_num_jobs(decode_dir) + 1):
        path = decode_dir / f"lat.{job}.gz"
        for utt, lattice in read_lattices(path):
            for p in penalties:
                penalised = lattice if p == 0.0 else CompactLattice(
                    lattice.start, [[(w, n, g + p if w != 0 else g, a, t) for w, n, g, a, t in arcs]
                                    for arcs in lattice.arcs], lattice.finals)
                for w in weights:
                    best = penalised.best_path(acoustic_scale=1.0 / w, source=f"{path}, entry {utt}")
                    try:
                        out[(w, p)][utt] = [id2word[i] for i in best.words] if best is not None else []
                    except KeyError as e:
                        raise DataError(path, f"entry {utt}: word id {e.args[0]} is not in {words_txt}") from None
    return out


def score_words(decode_dir: str | os.PathLike, ref_text: str | os.PathLike, *,
                words_txt: str | os.PathLike | None = None, lm_weights=DEFAULT_LM_WEIGHTS,
                word_ins_penalties: Iterable[float] = DEFAULT_WORD_INS_PENALTIES) -> ScliteResult:
    """WER of a decode dir as Kaldi's steps/score_kaldi.sh lays it out (see the module's docstring), counted by
    sclite on trn files; returns the best (LM weight, penalty)'s counts. Hypotheses from the lattices (with
    words_txt), or from <decode>/hyp/<lmwt>.<job>.txt (penalty 0.0 only) when there are none."""
    from .hmm.decode import decode_counts

    decode_dir, ref_text = Path(decode_dir), Path(ref_text)
    kaldi = decode_dir / "scoring_kaldi"
    kaldi.mkdir(parents=True, exist_ok=True)
    if (decode_dir / "num_jobs").exists():
        if words_txt is None:
            raise AsrserError(f"{decode_dir}: scoring its lattices needs the graph's words.txt")
        hyps = word_hypotheses(decode_dir, words_txt, lm_weights, word_ins_penalties)
    else:
        hyps = {(w, 0.0): by_utt for w, by_utt in text_hypotheses(decode_dir).words.items()}
    refs = read_transcripts(ref_text)
    decoded = set().union(*hyps.values())
    scored_refs = _scored_references(decode_dir, ref_text, refs, decoded)
    with atomic_write(kaldi / "test_filt.txt") as f:        # score_kaldi.sh: cat $data/text (no filter)
        f.write(ref_text.read_text(encoding="utf-8"))
    ref_trn = kaldi / "ref.trn"
    write_trn(ref_trn, scored_refs)
    wer_lines, results = [], {}
    for (w, p), by_utt in sorted(hyps.items(), key=lambda item: (item[0][1], item[0][0])):
        penalty_dir = kaldi / f"penalty_{penalty_name(p)}"
        with atomic_write(penalty_dir / f"{w:g}.txt") as f:
            f.writelines(" ".join([utt, *words]) + "\n" for utt, words in sorted(by_utt.items()))
        out = penalty_dir / f"score_{w:g}"
        out.mkdir(parents=True, exist_ok=True)
        write_trn(out / "hyp.trn", {u: by_utt.get(u, []) for u in scored_refs})
        run_sclite(ref_trn, out / "hyp.trn", out, "wer")
        result = parse_raw_sum(out / "wer.raw", w)
        results[(w, p)] = result
        wer_file = decode_dir / f"wer_{w:g}_{penalty_name(p)}"
        sentence_errors = sum(by_utt.get(u, []) != r for u, r in scored_refs.items()) / len(scored_refs)
        _write_compute_wer(wer_file, result, sentence_errors)
        wer_lines.append(f"{wer_file}:{result.wer_line()}")
    best_line = best_wer_line(wer_lines)
    with atomic_write(kaldi / "best_wer") as f:
        f.write(best_line + "\n")
    best_name = best_line.split()[-1].rsplit("wer_", 1)[1]
    best_lmwt, best_wip = best_name.rsplit("_", 1)
    details = kaldi / "wer_details"
    for name, value in (("lmwt", best_lmwt), ("wip", best_wip)):
        with atomic_write(details / name) as f:
            f.write(value + "\n")
    best = results[(float(best_lmwt), float(best_wip))]
    _write_scored_set(decode_dir, ref_text, refs, decoded, decode_counts(decode_dir))
    log.info("%s: %d utterances scored, %s", decode_dir, len(scored_refs), best_line)
    return best


_BEST_WER = re.compile(r"[WS]ER (\S+)")


def best_wer_line(lines: Iterable[str]) -> str:
    """Kaldi's utils/best_wer.sh on `grep WER wer_* /dev/null` output (lines `<file>:%WER 12.34 [ ... ]`): the
    line of the lowest rate (the first of equals), as `%WER 12.34 [ ... ] <file>`; AsrserError without any."""
    best_rate, best = None, None
    for line in lines:
        m = _BEST_WER.search(line)
        if m is None:
            continue
        try:
            rate = float(m.group(1))
        except ValueError:
            continue
        if best_rate is None or best_rate > rate:
            best_rate, best = rate, line
    if best is None:
        raise AsrserError("no %WER line to choose from")
    where, sep, rest = best.partition("%WER")
    out = f"%WER{rest} {where}" if sep else best
    return re.sub(r"\s+", " ", out).strip().removesuffix(":").strip()


def best_weight(results: list[ScliteResult]) -> ScliteResult:
    """The weight with the fewest errors (the smallest such weight on a tie)."""
    return min(results, key=lambda r: (r.errors, r.lmwt))


def read_per_by_lmwt(decode_dir: str | os.PathLike, scoring: str = "sclite") -> list[ScliteResult] | None:
    """A scored decode's per-weight counts (scoring/per_by_lmwt, or per_by_lmwt_basic for the basic scoring),
    or None when it has not been scored so."""
    path = Path(decode_dir) / "scoring" / f"per_by_lmwt{scoring_suffix(scoring)}"
    if not path.exists():
        return None
    lines = path.read_text().splitlines()
    if not lines or lines[0] != PER_BY_LMWT_HEADER:
        raise DataError(path, f"expected the header {PER_BY_LMWT_HEADER!r} (written by an older version: "
                              "score the decode again)", 1)
    results = []
    for n, line in enumerate(lines[1:], 2):
        try:
            lmwt, _, ref, sub, dels, ins, utts = line.split()
            lmwt, ref, sub, dels, ins, utts = float(lmwt), int(ref), int(sub), int(dels), int(ins), int(utts)
        except ValueError:
            raise DataError(path, f"expected {PER_BY_LMWT_HEADER[2:]!r}, found {line!r}", n) from None
        results.append(ScliteResult(lmwt, utts, ref, ref - sub - dels, sub, dels, ins, sub + dels + ins))
    if not results:
        raise DataError(path, "no LM weight scored")
    return results


@dataclass
class SetPer:
    """A decode's PER at the LM weight chosen on its system's dev decode (`tuned`; None while that decode is
    not scored or did not score the chosen weight) and at the decode's own best weight (`oracle`)."""

    tuned: ScliteResult | None
    oracle: ScliteResult
    tuning_dir: Path


def set_per(decode_dir: str | os.PathLike, tuning_dir: str | os.PathLike | None = None,
            scoring: str = "sclite") -> SetPer | None:
    """PER of <system>/decode_<set> at the best weight of <system>/decode_dev (or `tuning_dir`), with the
    set's own best as the oracle, in one scoring (sclite: Kaldi's TIMIT score.sh; basic: score_basic.sh);
    None when decode_dir has not been scored so. A speaker-independent first pass (decode_<set>.si of an
    SAT system) is tuned on decode_dev.si."""
    decode_dir = Path(decode_dir)
    first_pass = ".si" if decode_dir.name.endswith(".si") else ""
    tuning_dir = Path(tuning_dir) if tuning_dir is not None else \
        decode_dir.parent / f"decode_{TUNING_SET}{first_pass}"
    results = read_per_by_lmwt(decode_dir, scoring)
    if results is None:
        return None
    tuning = read_per_by_lmwt(tuning_dir, scoring)
    tuned = None
    if tuning is not None:
        chosen = best_weight(tuning).lmwt
        tuned = next((r for r in results if r.lmwt == chosen), None)
        if tuned is None:
            log.warning("%s: LM weight %g, chosen on %s, was not scored", decode_dir, chosen, tuning_dir)
    return SetPer(tuned, best_weight(results), tuning_dir)


_WER_FILE = re.compile(r"^wer_([^_]+)_([^_]+)$")
_WER_LINE = re.compile(r"^%WER [\d.]+ \[ (\d+) / (\d+), (\d+) ins, (\d+) del, (\d+) sub \]")


def read_wer_files(decode_dir: str | os.PathLike) -> dict[tuple[float, float], ScliteResult] | None:
    """A word-scored decode's counts per (LM weight, word insertion penalty), from its wer_<LMWT>_<WIP> files
    (score_words writes them), in Kaldi's order (penalty, then weight); None when it has none."""
    results = {}
    for path in Path(decode_dir).glob("wer_*_*"):
        m = _WER_FILE.match(path.name)
        if m is None:
            continue
        line = path.read_text().partition("\n")[0]
        counts = _WER_LINE.match(line)
        if counts is None:
            raise DataError(path, f"expected compute-wer's %WER line, found {line!r}", 1)
        errors, ref, ins, dels, sub = map(int, counts.groups())
        lmwt, wip = float(m.group(1)), float(m.group(2))
        results[(lmwt, wip)] = ScliteResult(lmwt, 0, ref, ref - sub - dels, sub, dels, ins, errors)
    return {k: results[k] for k in sorted(results, key=lambda k: (k[1], k[0]))} or None


@dataclass
class SetWer:
    """A word decode's WER at the (LM weight, penalty) chosen on its system's dev decode and at its own best."""

    tuned: ScliteResult | None
    tuned_penalty: float | None
    oracle: ScliteResult
    oracle_penalty: float


def set_wer(decode_dir: str | os.PathLike, tuning_dir: str | os.PathLike | None = None) -> SetWer | None:
    """WER of <system>/decode_<set> at the best (LM weight, penalty) of <system>/decode_dev, as set_per does for
    the PER; the first of equal rates wins, as utils/best_wer.sh picks it. None when not word-scored."""
    decode_dir = Path(decode_dir)
    tuning_dir = Path(tuning_dir) if tuning_dir is not None else decode_dir.parent / f"decode_{TUNING_SET}"
    results = read_wer_files(decode_dir)
    if results is None:
        return None
    best = lambda rs: min(rs, key=lambda k: rs[k].error_rate)       # noqa: E731 (dicts keep Kaldi's order)
    oracle = best(results)
    tuning = read_wer_files(tuning_dir)
    tuned = best(tuning) if tuning else None
    if tuned is not None and tuned not in results:
        log.warning("%s: LM weight %g and penalty %g, chosen on %s, were not scored", decode_dir, *tuned, tuning_dir)
        tuned = None
    return SetWer(results[tuned] if tuned else None, tuned[1] if tuned else None, results[oracle], oracle[1])


def word_results_table(exp_dir: str | os.PathLike, out: str | os.PathLike, title: str) -> tuple[str, list[dict]]:
    """The WER table of every word-scored <exp>/<system>/decode_<set> (Kaldi's steps/score_kaldi.sh layout) at
    the LM weight and penalty chosen on the system's dev set, the set's own best beside it; markdown and rows
    (system, set, per: the WER, for plot_error_rates)."""
    rows = []
    for best_file in sorted(Path(exp_dir).glob("*/decode_*/scoring_kaldi/best_wer")):
        decode_dir = best_file.parent.parent
        wer = set_wer(decode_dir)
        if wer is None:
            continue
        rows.append(dict(system=decode_dir.parent.name, set=decode_dir.name.removeprefix("decode_"),
                         decode_dir=decode_dir, wer=wer, per=wer.tuned.error_rate if wer.tuned else None,
                         line=best_file.read_text().strip(), scored_set=read_scored_set(decode_dir)))
    if not rows:
        return "", rows
    text = ["\n## Word error rate\n\nWER (sclite) of every word decode, as Kaldi's steps/score_kaldi.sh scores it "
            f"(LM weights and word insertion penalties swept), at the weight and penalty with the lowest WER on the "
            f"system's {TUNING_SET} set; the oracle columns give each set's own best.\n\n",
            f"| system | set | WER % | errors / words | ins | del | sub | LM weight, penalty (from {TUNING_SET}) | "
            "oracle WER % | utterances scored |\n",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"]
    for r in rows:
        t, o = r["wer"].tuned, r["wer"].oracle
        cells = ([f"{t.error_rate:.2f}", f"{t.errors} / {t.ref_words}", t.insertions, t.deletions, t.substitutions,
                  f"{t.lmwt:g}, {r['wer'].tuned_penalty:g}"] if t else ["-"] * 6)
        cells += [f"{o.error_rate:.2f}", _scored_cell(r["scored_set"])]
        text.append(f"| {r['system']} | {r['set']} | " + " | ".join(map(str, cells)) + " |\n")
    text.append("\nEach set's own best in Kaldi's best_wer form (oracle):\n\n```\n"
                + "\n".join(r["line"] for r in rows) + "\n```\n")
    plotted = [r for r in rows if r["per"] is not None]
    if plotted:
        from .plots import plot_error_rates
        figure = Path(out).with_name(Path(out).stem + "_wer.png")
        plot_error_rates(plotted, figure, f"{title}: WER by system (LM weight from {TUNING_SET})", ylabel="WER %")
        text.append(f"\n![WER by system]({figure.name})\n")
    return "".join(text), rows


_FER = re.compile(r"^%FER ([\d.]+) \[ (\d+) / (\d+) frames \](?: (\d+) utterances with targets, (\d+) without)?")


def decode_error_rates(decode_dir: str | os.PathLike) -> dict[str, float]:
    """The error rates of a decode dir: "per" (Kaldi's TIMIT scoring, score_sclite) at the LM weight chosen on
    dev ("lmwt"; absent until dev is scored), "per_oracle" at the set's own best weight ("lmwt_oracle"), the
    same of the basic scoring (silence a phone) as "per_basic", "lmwt_basic", "per_basic_oracle", and for
    hybrid decodes with frame targets "fer" (from <decode>/fer) with "fer_untargeted", the utterances left out
    of it."""
    decode_dir = Path(decode_dir)
    rates = {}
    for kind in SCORINGS:
        per = set_per(decode_dir, scoring=kind)
        key = "per" + scoring_suffix(kind)
        if per is not None:
            rates.update({f"{key}_oracle": per.oracle.error_rate,
                          f"lmwt{scoring_suffix(kind)}_oracle": per.oracle.lmwt})
            if per.tuned is not None:
                rates.update({key: per.tuned.error_rate, f"lmwt{scoring_suffix(kind)}": per.tuned.lmwt})
    fer = decode_dir / "fer"
    if fer.exists():
        m = _FER.match(fer.read_text())
        if not m:
            raise DataError(fer, f"not a %FER line: {fer.read_text().strip()!r}")
        rates["fer"] = float(m.group(1))
        rates["fer_untargeted"] = int(m.group(5) or 0)
    return rates


def read_scored_set(decode_dir: str | os.PathLike) -> dict:
    """scoring/scored_set.json of a scored decode ({} when absent)."""
    path = Path(decode_dir) / "scoring" / "scored_set.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _scored_cell(scored_set: dict) -> str:
    if not scored_set:
        return "-"
    left = sum(len(u) for u in scored_set["left_out"].values())
    return f"{scored_set['scored']}" + (f" of {scored_set['reference']}" if left else "")


def _final_state_cell(scored_set: dict) -> str:
    if "no_final_state_at_beam" not in scored_set:
        return "-"
    return f"{scored_set['no_final_state_at_beam']} / {len(scored_set['partial']) + len(scored_set['no_path'])}"


def _examples(utts: list[str]) -> str:
    return ", ".join(utts[:5]) + (f" and {len(utts) - 5} more" if len(utts) > 5 else "")


def scored_decodes(exp_dir: str | os.PathLike) -> list[Path]:
    """Every <exp>/<system>/decode_<set> with a PER table (scored by score_decode), sorted."""
    return sorted(table.parent.parent for table in Path(exp_dir).glob("*/decode_*/scoring/per_by_lmwt"))


def collect_results(exp_dir: str | os.PathLike, out: str | os.PathLike, title: str,
                    sections: Iterable[str] = ()) -> list[dict]:
    """RESULTS.md from every scored <exp>/<system>/decode_<set>: PER (Kaldi's TIMIT scoring, and the basic
    scoring with silence a phone) at the LM weight chosen on the system's dev decode, the set's own best
    (oracle) beside it, what the scored set left out, Kaldi's best_wer lines; then a recipe's own `sections`
    (markdown, e.g. hmm.boundaries.accuracy_table), and the figure."""
    exp_dir = Path(exp_dir)
    rows = []
    for decode_dir in scored_decodes(exp_dir):
        per, basic = set_per(decode_dir), set_per(decode_dir, scoring="basic")
        tuned = per.tuned
        lines = [(decode_dir / "scoring" / name).read_text().strip() for name in ("best_per", "best_per_basic")
                 if (decode_dir / "scoring" / name).exists()]
        rows.append(dict(system=decode_dir.parent.name, set=decode_dir.name.removeprefix("decode_"),
                         decode_dir=decode_dir, tuned=tuned, oracle=per.oracle,
                         per=tuned.error_rate if tuned else None, lmwt=tuned.lmwt if tuned else None,
                         basic=basic, scored_set=read_scored_set(decode_dir), lines=lines))
    words, word_rows = word_results_table(exp_dir, out, title)
    if word_rows and not rows:      # a word task (e.g. egs/template/s5): its WER table only
        with atomic_write(out) as f:
            f.write(f"# {title}\n" + words + "".join(sections))
        return word_rows
    with atomic_write(out) as f:
        f.write(f"# {title}\n\nPhone error rate (39 phones, sclite), scored as Kaldi's TIMIT recipe scores "
                "(local/score.sh = score_sclite.sh: lattice best paths as CTM, reference silence optional) and, "
                "in the basic columns, as its local/score_basic.sh (silence scored as a phone). Every set of a "
                "system is scored at the LM "
                f"weight with the lowest PER on that system's {TUNING_SET} set (so no test figure is tuned on "
                "test); the oracle columns give each set's own best weight, as Kaldi's RESULTS quote it. "
                "Utterances scored: of the reference transcripts, those decoded. No final state: utterances "
                "whose decode reached no final state of the graph at the beam / that still reached none at the "
                "retry beam (scored with their partial path, or empty without any path).\n\n")
        f.write(f"| system | set | PER % | errors / phones | ins | del | sub | LM weight (from {TUNING_SET}) | "
                "oracle PER % | oracle LM weight | basic PER % | basic LM weight | basic oracle PER % | "
                "utterances scored | no final state |\n")
        f.write("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for r in rows:
            t, o = r["tuned"], r["oracle"]
            cells = ([f"{t.error_rate:.2f}", f"{t.errors} / {t.ref_words}", t.insertions, t.deletions,
                      t.substitutions, f"{t.lmwt:g}"] if t else ["-"] * 6)
            cells += [f"{o.error_rate:.2f}", f"{o.lmwt:g}"]
            b = r["basic"]
            cells += ([f"{b.tuned.error_rate:.2f}" if b.tuned else "-", f"{b.tuned.lmwt:g}" if b.tuned else "-",
                       f"{b.oracle.error_rate:.2f}"] if b else ["-"] * 3)
            cells += [_scored_cell(r["scored_set"]), _final_state_cell(r["scored_set"])]
            f.write(f"| {r['system']} | {r['set']} | " + " | ".join(map(str, cells)) + " |\n")
        notes = []
        for r in rows:
            ss = r["scored_set"]
            for reason, utts in ss.get("left_out", {}).items():
                notes.append(f"{r['decode_dir']}: {len(utts)} utterance(s) left out, {reason}: {_examples(utts)}")
            for key, what in (("partial", "reached no final state, partial path scored"),
                              ("no_path", "no path through the graph, scored as empty")):
                if ss.get(key):
                    notes.append(f"{r['decode_dir']}: {len(ss[key])} utterance(s) {what}: {_examples(ss[key])}")
            if r["tuned"] is None:
                notes.append(f"{r['decode_dir']}: no PER at a dev-chosen LM weight "
                             f"({exp_dir / r['system'] / f'decode_{TUNING_SET}'} is not scored or lacks the weight)")
        if notes:
            f.write("\n" + "".join(f"- {n}\n" for n in notes))
        f.write("\nEach set's own best weight in Kaldi's best_wer form (oracle; Kaldi's TIMIT scoring, then the "
                "basic scoring):\n")
        f.write("\n```\n" + "\n".join(line for r in rows for line in r["lines"]) + "\n```\n")
        for section in [*sections, words]:
            f.write(section)
        if any(r["per"] is not None for r in rows):
            f.write(f"\n![PER by system]({Path(out).with_suffix('.png').name})\n")
    # an SAT system's first pass (set <name>.si) is in the table, not in the figure of the systems' results
    plotted = [r for r in rows if r["per"] is not None and not r["set"].endswith(".si")]
    if plotted:
        from .plots import plot_error_rates
        plot_error_rates(plotted, Path(out).with_suffix(".png"),
                         f"{title}: PER by system (LM weight from {TUNING_SET})")
    return rows


def seed_spread(exp_dirs: Sequence[str | os.PathLike], labels: Sequence[str] = (), systems: Sequence[str] = (),
                sets: Sequence[str] = (TUNING_SET, "test"), out: str | os.PathLike | None = None,
                plot: str | os.PathLike | None = None) -> list[dict]:
    """One recipe run several times (another seed each; one exp dir per run): each system's PER on each set
    (Kaldi's TIMIT scoring, at the LM weight chosen on that run's dev decode) as the mean and sample standard
    deviation over the runs, beside every run's figure and chosen weight; a markdown table in `out` and bars
    with the spread in `plot`. `systems` selects and orders the rows (default: every system scored in all runs);
    an SAT system's first pass is the system <name>.si. Returns one row per system and set."""
    exp_dirs = [Path(d) for d in exp_dirs]
    labels = list(labels) or [d.parent.name if d.name == "exp" else d.name for d in exp_dirs]
    if len(labels) != len(exp_dirs):
        raise AsrserError(f"{len(labels)} labels for {len(exp_dirs)} exp dirs")
    tuned = []          # per run: {(system, set): ScliteResult at the dev-chosen weight}
    for exp_dir in exp_dirs:
        run = {}
        for decode_dir in scored_decodes(exp_dir):
            name = decode_dir.name.removeprefix("decode_")
            first_pass = ".si" if name.endswith(".si") else ""
            run[decode_dir.parent.name + first_pass, name.removesuffix(".si")] = set_per(decode_dir).tuned
        if not run:
            raise DataError(exp_dir, "no scored decode (<system>/decode_<set>/scoring/per_by_lmwt)")
        tuned.append(run)
    if not systems:
        systems = sorted(set.intersection(*({s for s, _ in r} for r in tuned)))
    rows = []
    for system in systems:
        for name in sets:
            results = []
            for exp_dir, run in zip(exp_dirs, tuned):
                result = run.get((system, name))
                if result is None:
                    raise DataError(exp_dir / system.removesuffix(".si") /
                                    f"decode_{name}{'.si' if system.endswith('.si') else ''}",
                                    "not scored at the LM weight chosen on dev (missing, or dev not scored)")
                results.append(result)
            pers = [r.error_rate for r in results]
            rows.append(dict(system=system, set=name, runs=pers, lmwts=[r.lmwt for r in results],
                             per=statistics.fmean(pers), sd=statistics.stdev(pers) if len(pers) > 1 else None))
    if out is not None:
        with atomic_write(out) as f:
            f.write(_seed_spread_table(rows, labels, sets))
    if plot is not None:
        from .plots import plot_error_rates
        plot_error_rates(rows, plot, f"PER by system: mean and sd over {len(exp_dirs)} runs "
                                     f"(LM weight from {TUNING_SET})")
    return rows


def _seed_spread_table(rows: list[dict], labels: Sequence[str], sets: Sequence[str]) -> str:
    def mean_sd(r):
        return f"{r['per']:.2f}" + (f" ± {r['sd']:.2f}" if r["sd"] is not None else "")

    runs = " / ".join(labels)
    head = ([f"{name}, mean ± sd" for name in sets] + [f"{name}, {runs}" for name in sets] +
            [f"LM weight (from {TUNING_SET}), {runs}"])
    lines = ["| system | " + " | ".join(head) + " |", "|---|" + "---:|" * len(sets) + "---|" * (len(sets) + 1)]
    for system in dict.fromkeys(r["system"] for r in rows):
        mine = {r["set"]: r for r in rows if r["system"] == system}
        cells = ([mean_sd(mine[name]) for name in sets] +
                 [" / ".join(f"{p:.2f}" for p in mine[name]["runs"]) for name in sets] +
                 [" / ".join(f"{w:g}" for w in mine[sets[0]]["lmwts"])])   # every set at dev's weight
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def results_summary(rows: list[dict]) -> list[str]:
    """One line per row of collect_results, for the log."""
    lines = []
    for row in rows:
        if "wer" in row:
            tuned = row["wer"].tuned
            lines.append(f"{row['decode_dir']}: " + (f"WER {tuned.error_rate:.2f} at LM weight {tuned.lmwt:g}, "
                         f"penalty {row['wer'].tuned_penalty:g} (chosen on {TUNING_SET})" if tuned else
                         f"no WER at a weight chosen on {TUNING_SET}") + f"; oracle {row['line']}")
            continue
        tuned = (f"PER {row['per']:.2f} at LM weight {row['lmwt']:g} (chosen on {TUNING_SET})"
                 if row["per"] is not None else f"no PER at a weight chosen on {TUNING_SET}")
        basic = row["basic"]
        if basic is not None and basic.tuned is not None:
            tuned += f", basic scoring (silence a phone) {basic.tuned.error_rate:.2f}"
        lines.append(f"{row['decode_dir']}: {tuned}; oracle {' | '.join(row['lines'])}")
    return lines
