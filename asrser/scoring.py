"""Phone error rate with NIST sclite (Debian's sctk), as Kaldi's TIMIT local/score.sh does.

For every LM weight of a decode: hypotheses and references are mapped (48 -> 39 phones for TIMIT; silence is
scored as a phone, as in Kaldi's TIMIT recipe), written as sclite `trn` files, and scored by `sctk sclite`
(sum, rsum, pra, dtl reports in <decode>/scoring/score_<LMWT>/). The best weight goes to <decode>/scoring/best_per
in Kaldi's best_wer format; the per-weight table to <decode>/scoring/per_by_lmwt.
"""

from __future__ import annotations

import logging
import os
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import AsrserError, DataError
from .fileio import atomic_write, read_table

log = logging.getLogger(__name__)


@dataclass
class SclitResult:
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


def parse_raw_sum(path: Path, lmwt: float) -> SclitResult:
    """Counts from sclite's `.raw` report (rsum): the Sum line's sentences, words, corr/sub/del/ins/err."""
    for line in path.read_text().splitlines():
        m = _RAW_SUM.match(line.strip())
        if m:
            return SclitResult(lmwt, *(int(m.group(i)) for i in range(1, 8)))
    raise DataError(path, "no Sum line in sclite's raw report")


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
                 name: str = "39phn") -> SclitResult:
    """Score every hyp/<lmwt>.<job>.txt of a decode dir with sclite; return the best (lowest error) weight."""
    decode_dir = Path(decode_dir)
    scoring = decode_dir / "scoring"
    scoring.mkdir(parents=True, exist_ok=True)
    refs = {u: map_phones(p, phone_map, drop) for u, p in read_transcripts(Path(ref_text)).items()}
    ref_trn = scoring / f"ref.{name}.trn"
    write_trn(ref_trn, refs)
    files = hyp_files_by_weight(decode_dir / "hyp")
    if not files:
        raise AsrserError(f"{decode_dir}/hyp: no hypotheses to score")
    results = []
    for w, parts in files.items():
        hyps: dict[str, list[str]] = {}
        for part in parts:
            hyps.update({u: map_phones(p, phone_map, drop) for u, p in read_transcripts(part).items()})
        missing = set(refs) - set(hyps)
        for utt in missing:  # an utterance the decoder lost counts as all deletions, as in Kaldi
            hyps[utt] = []
        unknown = set(hyps) - set(refs)
        if unknown:
            raise AsrserError(f"{decode_dir}: hypotheses for utterances without reference, e.g. {min(unknown)}")
        out = scoring / f"score_{w:g}"
        hyp_trn = out / f"hyp.{name}.trn"
        out.mkdir(parents=True, exist_ok=True)
        write_trn(hyp_trn, hyps)
        run_sclite(ref_trn, hyp_trn, out, name)
        results.append(parse_raw_sum(out / f"{name}.raw", w))
    best = min(results, key=lambda r: (r.errors, r.lmwt))
    with atomic_write(scoring / "per_by_lmwt") as f:
        f.write("# LMWT PER% ref_phones sub del ins\n")
        for r in results:
            f.write(f"{r.lmwt:g} {r.error_rate:.2f} {r.ref_words} {r.substitutions} {r.deletions} {r.insertions}\n")
    with atomic_write(scoring / "best_per") as f:
        f.write(f"%PER {best.error_rate:.2f} [ {best.errors} / {best.ref_words}, {best.insertions} ins, "
                f"{best.deletions} del, {best.substitutions} sub ] {scoring}/score_{best.lmwt:g}/{name}.sys\n")
    log.info("%s: best PER %.2f%% at LM weight %g", decode_dir, best.error_rate, best.lmwt)
    return best


def decode_error_rates(decode_dir: str | os.PathLike) -> dict[str, float]:
    """The error rates a decode dir holds: "per" (scoring/best_per) and, for hybrid decodes, "fer" (fer)."""
    decode_dir = Path(decode_dir)
    rates = {}
    best = decode_dir / "scoring" / "best_per"
    if best.exists():
        m = re.match(r"%PER ([\d.]+) ", best.read_text())
        if not m:
            raise DataError(best, f"not a best_per line: {best.read_text().strip()!r}")
        rates["per"] = float(m.group(1))
    fer = decode_dir / "fer"
    if fer.exists():
        rates["fer"] = float(fer.read_text().split()[1])
    return rates


def collect_results(exp_dir: str | os.PathLike, out: str | os.PathLike, title: str) -> list[dict]:
    """RESULTS.md from every <exp>/<system>/decode_<set>/scoring/best_per (Kaldi's best_wer lines)."""
    exp_dir = Path(exp_dir)
    rows = []
    for best in sorted(exp_dir.glob("*/decode_*/scoring/best_per")):
        decode_dir = best.parent.parent
        line = best.read_text().strip()
        m = re.match(r"%PER ([\d.]+) \[ (\d+) / (\d+), (\d+) ins, (\d+) del, (\d+) sub \] .*score_([\d.]+)/", line)
        if not m:
            raise DataError(best, f"not a best_per line: {line!r}")
        rows.append(dict(system=decode_dir.parent.name, set=decode_dir.name.removeprefix("decode_"),
                         per=float(m.group(1)), errors=int(m.group(2)), phones=int(m.group(3)),
                         ins=int(m.group(4)), dels=int(m.group(5)), sub=int(m.group(6)), lmwt=m.group(7),
                         line=line))
    with atomic_write(out) as f:
        f.write(f"# {title}\n\nPhone error rate (39 phones, sclite), best LM weight per system and set.\n\n")
        f.write("| system | set | PER % | errors / phones | ins | del | sub | LM weight |\n")
        f.write("|---|---|---:|---:|---:|---:|---:|---:|\n")
        for r in rows:
            f.write(f"| {r['system']} | {r['set']} | {r['per']:.2f} | {r['errors']} / {r['phones']} | {r['ins']} | "
                    f"{r['dels']} | {r['sub']} | {r['lmwt']} |\n")
        f.write("\n```\n" + "\n".join(r["line"] for r in rows) + "\n```\n")
        hybrids = sorted({p.parent.parent.name for p in exp_dir.glob("*/decode_*/fer")})
        if hybrids:
            f.write("\nHybrid systems in the form of the paper's baseline row (frame error rate against the "
                    "tri2 forced alignments, PER as above). The paper's figures are on real TIMIT: a different "
                    "corpus, shown for orientation only.\n\n| system | FER dev | FER test | PER dev | PER test |\n"
                    "|---|---:|---:|---:|---:|\n")
            from .transfer.report import PAPER
            for system in hybrids:
                rates = {name: decode_error_rates(exp_dir / system / f"decode_{name}") for name in ("dev", "test")}
                cells = [f"{rates[name][kind]:.2f}%" if kind in rates[name] else "-"
                         for kind in ("fer", "per") for name in ("dev", "test")]
                f.write(f"| {system} (this corpus) | " + " | ".join(cells) + " |\n")
            paper = PAPER["ser_to_asr"]["baseline"]
            f.write("| ConvNet, Fayek et al. 2016 (real TIMIT) | " + " | ".join(
                f"{paper[k]:.2f}%" for k in ("fer_dev", "fer_test", "per_dev", "per_test")) + " |\n")
        accuracies = sorted(exp_dir.glob("*/boundary_accuracy.json"))
        if accuracies:
            from .gmm.boundaries import TOLERANCES_MS
            f.write("\nForced-alignment phone boundaries against the reference segmentation: share within "
                    + " / ".join(map(str, TOLERANCES_MS)) + " ms as aligned, and after boundary-specific correction "
                    "(each system's median offset per phone pair, fitted on its training-set alignments; - where "
                    "none was applied).\n\n| alignment | utterances | boundaries | "
                    + " | ".join(f"{kind}{tol} ms" for kind in ("within ", "corrected, within ") for tol in TOLERANCES_MS)
                    + " |\n|---|---:|---:|" + "---:|" * (2 * len(TOLERANCES_MS)) + "\n")
            for path in accuracies:
                a = json.loads(path.read_text())
                cells = [f"{acc[f'within_{tol}ms']:.1f}%" if acc else "-"
                         for acc in (a, a.get("corrected")) for tol in TOLERANCES_MS]
                f.write(f"| {path.parent.name} | {a['utterances']} | {a['boundaries']} | " + " | ".join(cells) + " |\n")
        if rows:
            f.write(f"\n![PER by system]({Path(out).with_suffix('.png').name})\n")
    if rows:
        from .plots import plot_error_rates
        plot_error_rates(rows, Path(out).with_suffix(".png"), f"{title}: PER by system")
    return rows
