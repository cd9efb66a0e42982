"""A Kaldi experiment's alignments as the hybrid nets' input: Kaldi's alignment dirs (e.g. egs/timit/s5's
exp/tri3_ali, and the dev set's for validation) with Kaldi's lang dir, checked and gathered into one alignment
dir of the same layout, from which the frame targets are made as from any of ours.

The imported dir holds Kaldi's final.mdl and tree (copied: the hybrid decodes with this HMM and the graph Kaldi
made for it), the lang's phones.txt (so the net's class table names the states with Kaldi's phone names), every
archive of every given dir as ali.1.gz .. ali.N.gz, and num_jobs. Every file is checked on the way in, each
error one line naming the file and what was expected: a model file of another kind, a lang whose phones are not
the model's, an archive that is truncated or not of alignments, transition-ids the model does not have
(alignments of another model or tree), an utterance aligned twice, dirs of different models.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np

from ..errors import AsrserError, DataError
from ..fileio import Stamp, temp_name
from ..kaldi_format import ArchiveWriter, read_int_vectors, write_num_jobs
from ..lang import Lang
from .align import alignment_archives, check_alignment
from .model import HmmModel, check_lang, tree_path
from .tables import tid_tables
from .targets import write_targets

log = logging.getLogger(__name__)


def _same_hmm(model: HmmModel, other: HmmModel) -> bool:
    """Whether two models' transition-ids mean the same (phone, HMM state, pdf): alignments of one are
    alignments of the other (the transition probabilities may differ)."""
    if model.num_transition_ids != other.num_transition_ids:
        return False
    return (np.array_equal(model.tid2pdf, other.tid2pdf)
            and all(np.array_equal(a, b) for a, b in zip(tid_tables(model), tid_tables(other))))


def _copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, temp_name(dst))
    os.replace(temp_name(dst), dst)


def import_kaldi_alignments(lang_dir: str | os.PathLike, ali_dirs: list[str | os.PathLike],
                            out_dir: str | os.PathLike) -> None:
    """Kaldi's alignment dirs (final.mdl, tree, ali.*.gz, num_jobs; all of one model) with Kaldi's lang dir ->
    one alignment dir `out_dir` (see the module's docstring); skipped when up to date."""
    if not ali_dirs:
        raise AsrserError("no Kaldi alignment dir given")
    lang_dir, out_dir = Path(lang_dir), Path(out_dir)
    ali_dirs = [Path(d) for d in ali_dirs]
    for d in ali_dirs:
        if not d.is_dir():
            raise DataError(d, "no such directory (a Kaldi alignment dir: final.mdl, tree, ali.*.gz, num_jobs)")
    archives = [a for d in ali_dirs for a in alignment_archives(d)]
    models = [d / "final.mdl" for d in ali_dirs]
    inputs = [*Lang.files(lang_dir), *models, *(tree_path(m) for m in models), *archives]
    stamp = Stamp(out_dir / "import.done", inputs, follow_scp=False)
    if stamp.is_current():
        log.info("%s is up to date", out_dir)
        return
    model = HmmModel.load(models[0])
    model.require_tree()
    for path in models[1:]:
        if not _same_hmm(model, HmmModel.load(path)):
            raise DataError(path, f"not the HMM of {models[0]}: the alignment dirs must come from one model "
                                  "(e.g. tri3_ali and tri3_ali_dev)")
    lang = Lang.load(lang_dir)
    check_lang(lang, model)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("ali.*.gz"):
        old.unlink()
    seen: dict[str, Path] = {}
    for job, archive in enumerate(archives, 1):
        with ArchiveWriter(out_dir / f"ali.{job}.gz") as writer:
            for utt, ali in read_int_vectors(archive):
                check_alignment(ali, model.num_transition_ids, archive, utt, models[0])
                if utt in seen:
                    raise DataError(archive, f"utterance {utt} is aligned again (also in {seen[utt]})")
                seen[utt] = archive
                writer.write_int_vector(utt, ali)
    if not seen:
        raise DataError(archives[0], "no alignment in any archive of the given dirs")
    _copy(models[0], out_dir / "final.mdl")
    _copy(tree_path(models[0]), out_dir / "tree")
    _copy(lang_dir / "phones.txt", out_dir / "phones.txt")
    write_num_jobs(out_dir, len(archives))
    stamp.write()
    log.info("%s: %d alignments of %s from %s, phones of %s", out_dir, len(seen), models[0],
             " ".join(map(str, ali_dirs)), lang_dir)


def import_kaldi_targets(lang_dir: str | os.PathLike, ali_dirs: list[str | os.PathLike],
                         out_dir: str | os.PathLike, targets: str = "mono-state") -> int:
    """import_kaldi_alignments into out_dir, then the nets' frame targets in out_dir/targets (ali_to_targets).
    Returns the number of classes."""
    import_kaldi_alignments(lang_dir, ali_dirs, out_dir)
    return write_targets(out_dir, Path(out_dir) / "targets", targets)
