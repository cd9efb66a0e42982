"""Phone error rate with NIST sclite (Debian's sctk), as Kaldi's TIMIT local/score.sh does.

For every LM weight of a decode: hypotheses and references are mapped (48 -> 39 phones for TIMIT; silence is
scored as a phone, as in Kaldi's TIMIT recipe), written as sclite `trn` files, and scored by `sctk sclite`
(sum, rsum, pra, dtl reports in <decode>/scoring/score_<LMWT>/). The per-weight table goes to
<decode>/scoring/per_by_lmwt, the decode's own best weight to <decode>/scoring/best_per in Kaldi's best_wer
format, and what the scored set holds (utterances left out and why, partial decodes) to
<decode>/scoring/scored_set.json.

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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import AsrserError, DataError
from .fileio import atomic_write, read_table

log = logging.getLogger(__name__)


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


def sclite_command() -> list[str]:
    if shutil.which("sclite"):
        return ["sclite"]
    if shutil.which("sctk"):
        return ["sctk", "sclite"]
    raise AsrserError("sclite not found: install the Debian package 'sctk' (apt-get install sctk)")


def map_phones(phones: list[str], phone_map: dict[str, str | None] | None, drop: set[str]) -> list[str]:
    out = []
    for p in phones:
        q = phone_map.get(p, p) if phone_map else p
        if q is not None and q not in drop:
            out.append(q)
    return out


def write_trn(path: Path, transcripts: dict[str, list[str]]) -> None:
    with atomic_write(path) as f:
        for utt, phones in sorted(transcripts.items()):
            f.write(f"{' '.join(phones)} ({utt})\n")


def read_transcripts(path: Path) -> dict[str, list[str]]:
    return {fields[0]: fields[1:] for _, fields in read_table(path, min_fields=1)}


def run_sclite(ref_trn: Path, hyp_trn: Path, out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = sclite_command() + ["-r", str(ref_trn), "trn", "-h", str(hyp_trn), "trn", "-i", "rm",
                              "-o", "sum", "rsum", "pra", "dtl", "-n", name, "-O", str(out_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AsrserError(f"sclite failed on {hyp_trn} (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")


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


def score_decode(decode_dir: str | os.PathLike, ref_text: str | os.PathLike,
                 phone_map: dict[str, str | None] | None = None, drop: frozenset[str] = frozenset(),
                 name: str = "39phn") -> ScliteResult:
    """Score every hyp/<lmwt>.<job>.txt of a decode dir with sclite; return the best (lowest error) weight.

    The scored set is every utterance of `ref_text` that was decoded; one without a hypothesis (not decoded:
    it had no features) is left out, as are those removed from the data dir for unreadable audio
    (<data>/bad_utts); both are logged and recorded in scoring/scored_set.json with the decoder's
    utterances without a final state or path."""
    from .hmm.decode import decode_counts

    decode_dir, ref_text = Path(decode_dir), Path(ref_text)
    scoring = decode_dir / "scoring"
    scoring.mkdir(parents=True, exist_ok=True)
    refs = {u: map_phones(p, phone_map, drop) for u, p in read_transcripts(ref_text).items()}
    files = hyp_files_by_weight(decode_dir / "hyp")
    if not files:
        raise AsrserError(f"{decode_dir}/hyp: no hypotheses to score")
    by_weight: dict[float, dict[str, list[str]]] = {w: {} for w in files}
    for w, parts in files.items():
        for part in parts:
            by_weight[w].update({u: map_phones(p, phone_map, drop) for u, p in read_transcripts(part).items()})
    decoded = set().union(*by_weight.values())
    unknown = decoded - set(refs)
    if unknown:
        raise AsrserError(f"{decode_dir}: hypotheses for utterances without reference in {ref_text}, "
                          f"e.g. {min(unknown)}")
    scored = {u: p for u, p in refs.items() if u in decoded}
    if not scored:
        raise AsrserError(f"{decode_dir}/hyp: no hypothesis for any utterance of {ref_text}")
    left_out = {}
    bad_audio = ref_text.parent / "bad_utts"       # removed from the data dir by feature extraction
    unreadable = sorted(bad_audio.read_text().split()) if bad_audio.exists() else []
    if unreadable:
        left_out[f"unreadable audio ({bad_audio})"] = unreadable
    not_decoded = sorted(set(refs) - decoded)
    if not_decoded:
        left_out["not decoded (no features)"] = not_decoded
    ref_trn = scoring / f"ref.{name}.trn"
    write_trn(ref_trn, scored)
    results = []
    for w, hyps in by_weight.items():
        lacking = decoded - set(hyps)       # one weight's files lack utterances the others have
        if lacking:
            raise AsrserError(f"{decode_dir}/hyp: LM weight {w:g} has no hypothesis for {len(lacking)} decoded "
                              f"utterance(s), e.g. {min(lacking)}")
        out = scoring / f"score_{w:g}"
        hyp_trn = out / f"hyp.{name}.trn"
        out.mkdir(parents=True, exist_ok=True)
        write_trn(hyp_trn, hyps)
        run_sclite(ref_trn, hyp_trn, out, name)
        results.append(parse_raw_sum(out / f"{name}.raw", w))
    best = best_weight(results)
    with atomic_write(scoring / "per_by_lmwt") as f:
        f.write(PER_BY_LMWT_HEADER + "\n")
        for r in results:
            f.write(f"{r.lmwt:g} {r.error_rate:.2f} {r.ref_words} {r.substitutions} {r.deletions} {r.insertions} "
                    f"{r.utterances}\n")
    with atomic_write(scoring / "best_per") as f:
        f.write(f"%PER {best.error_rate:.2f} [ {best.errors} / {best.ref_words}, {best.insertions} ins, "
                f"{best.deletions} del, {best.substitutions} sub ] {scoring}/score_{best.lmwt:g}/{name}.sys\n")
    counts = decode_counts(decode_dir)
    scored_set = {"reference": len(refs) + len(unreadable), "scored": len(scored), "left_out": left_out}
    if counts:                                  # the decoder's counts (absent for hypotheses from elsewhere)
        scored_set.update(no_final_state_at_beam=counts["retried"], partial=counts["partial_utts"],
                          no_path=counts["failed_utts"])
    with atomic_write(scoring / "scored_set.json") as f:
        json.dump(scored_set, f, indent=1)
    for reason, utts in left_out.items():
        log.warning("%s: %d utterance(s) of %s left out of the scored set: %s (e.g. %s)", decode_dir, len(utts),
                    ref_text, reason, ", ".join(utts[:3]))
    log.info("%s: %d utterances scored, best PER %.2f%% at LM weight %g", decode_dir, len(scored),
             best.error_rate, best.lmwt)
    return best


def best_weight(results: list[ScliteResult]) -> ScliteResult:
    """The weight with the fewest errors (the smallest such weight on a tie)."""
    return min(results, key=lambda r: (r.errors, r.lmwt))


def read_per_by_lmwt(decode_dir: str | os.PathLike) -> list[ScliteResult] | None:
    """A scored decode's per-weight counts (scoring/per_by_lmwt), or None when it has not been scored."""
    path = Path(decode_dir) / "scoring" / "per_by_lmwt"
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


def set_per(decode_dir: str | os.PathLike, tuning_dir: str | os.PathLike | None = None) -> SetPer | None:
    """PER of <system>/decode_<set> at the best weight of <system>/decode_dev (or `tuning_dir`), with the
    set's own best as the oracle; None when decode_dir has not been scored."""
    decode_dir = Path(decode_dir)
    tuning_dir = Path(tuning_dir) if tuning_dir is not None else decode_dir.parent / f"decode_{TUNING_SET}"
    results = read_per_by_lmwt(decode_dir)
    if results is None:
        return None
    tuning = read_per_by_lmwt(tuning_dir)
    tuned = None
    if tuning is not None:
        chosen = best_weight(tuning).lmwt
        tuned = next((r for r in results if r.lmwt == chosen), None)
        if tuned is None:
            log.warning("%s: LM weight %g, chosen on %s, was not scored", decode_dir, chosen, tuning_dir)
    return SetPer(tuned, best_weight(results), tuning_dir)


_FER = re.compile(r"^%FER ([\d.]+) \[ (\d+) / (\d+) frames \](?: (\d+) utterances with targets, (\d+) without)?")


def decode_error_rates(decode_dir: str | os.PathLike) -> dict[str, float]:
    """The error rates of a decode dir: "per" at the LM weight chosen on dev ("lmwt"; absent until dev is
    scored), "per_oracle" at the set's own best weight ("lmwt_oracle"), and for hybrid decodes with frame
    targets "fer" (from <decode>/fer) with "fer_untargeted", the utterances left out of it."""
    decode_dir = Path(decode_dir)
    rates = {}
    per = set_per(decode_dir)
    if per is not None:
        rates.update(per_oracle=per.oracle.error_rate, lmwt_oracle=per.oracle.lmwt)
        if per.tuned is not None:
            rates.update(per=per.tuned.error_rate, lmwt=per.tuned.lmwt)
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


def collect_results(exp_dir: str | os.PathLike, out: str | os.PathLike, title: str,
                    sections: Iterable[str] = ()) -> list[dict]:
    """RESULTS.md from every scored <exp>/<system>/decode_<set>: PER at the LM weight chosen on the system's
    dev decode, the set's own best (oracle) beside it, what the scored set left out, Kaldi's best_wer lines;
    then a recipe's own `sections` (markdown, e.g. hmm.boundaries.accuracy_table), and the figure."""
    exp_dir = Path(exp_dir)
    rows = []
    for table in sorted(exp_dir.glob("*/decode_*/scoring/per_by_lmwt")):
        decode_dir = table.parent.parent
        per = set_per(decode_dir)
        tuned = per.tuned
        rows.append(dict(system=decode_dir.parent.name, set=decode_dir.name.removeprefix("decode_"),
                         decode_dir=decode_dir, tuned=tuned, oracle=per.oracle,
                         per=tuned.error_rate if tuned else None, lmwt=tuned.lmwt if tuned else None,
                         scored_set=read_scored_set(decode_dir),
                         line=(decode_dir / "scoring" / "best_per").read_text().strip()))
    with atomic_write(out) as f:
        f.write(f"# {title}\n\nPhone error rate (39 phones, sclite). Every set of a system is scored at the LM "
                f"weight with the lowest PER on that system's {TUNING_SET} set (so no test figure is tuned on "
                "test); the oracle columns give each set's own best weight, as Kaldi's RESULTS quote it. "
                "Utterances scored: of the reference transcripts, those decoded. No final state: utterances "
                "whose decode reached no final state of the graph at the beam / that still reached none at the "
                "retry beam (scored with their partial path, or empty without any path).\n\n")
        f.write(f"| system | set | PER % | errors / phones | ins | del | sub | LM weight (from {TUNING_SET}) | "
                "oracle PER % | oracle LM weight | utterances scored | no final state |\n")
        f.write("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for r in rows:
            t, o = r["tuned"], r["oracle"]
            cells = ([f"{t.error_rate:.2f}", f"{t.errors} / {t.ref_words}", t.insertions, t.deletions,
                      t.substitutions, f"{t.lmwt:g}"] if t else ["-"] * 6)
            cells += [f"{o.error_rate:.2f}", f"{o.lmwt:g}", _scored_cell(r["scored_set"]),
                      _final_state_cell(r["scored_set"])]
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
        f.write("\nEach set's own best weight in Kaldi's best_wer form (oracle):\n")
        f.write("\n```\n" + "\n".join(r["line"] for r in rows) + "\n```\n")
        for section in sections:
            f.write(section)
        if any(r["per"] is not None for r in rows):
            f.write(f"\n![PER by system]({Path(out).with_suffix('.png').name})\n")
    plotted = [r for r in rows if r["per"] is not None]
    if plotted:
        from .plots import plot_error_rates
        plot_error_rates(plotted, Path(out).with_suffix(".png"),
                         f"{title}: PER by system (LM weight from {TUNING_SET})")
    return rows


def results_summary(rows: list[dict]) -> list[str]:
    """One line per row of collect_results, for the log."""
    lines = []
    for row in rows:
        tuned = (f"PER {row['per']:.2f} at LM weight {row['lmwt']:g} (chosen on {TUNING_SET})"
                 if row["per"] is not None else f"no PER at a weight chosen on {TUNING_SET}")
        lines.append(f"{row['decode_dir']}: {tuned}; oracle {row['line']}")
    return lines
