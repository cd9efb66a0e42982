"""Kaldi lang directories for phone recognition: the "words" are phones, as in Kaldi's TIMIT recipe.

prepare_phone_lang() writes what Kaldi's utils/prepare_lang.sh writes for TIMIT (position-independent phones,
no optional silence: silence is a word of the phone LM, and the OOV word, as in Kaldi's TIMIT recipe):
phones.txt, words.txt, topo, L.fst, L_disambig.fst, oov.txt, oov.int and
phones/{silence,nonsilence,optional_silence,disambig,context_indep,wdisambig,extra_questions}.{txt,int,csl},
phones/{roots,sets,align_lexicon}.{txt,int}, phones/wdisambig_{phones,words}.int. Kaldi's own lang dirs load
as well (Lang.load).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import kaldifst
import kaldi_hmm_gmm as khg

from .errors import DataError
from .fileio import atomic_write, read_table

EPS = "<eps>"
DISAMBIG = "#0"     # G's backoff arcs carry #0; L_disambig passes it through
BOS, EOS = "<s>", "</s>"


def topology_text(nonsil_ids: list[int], sil_ids: list[int], num_nonsil_states: int = 3,
                  num_sil_states: int = 5) -> str:
    """Kaldi's utils/gen_topo.pl: left-to-right phones; the silence model lets its middle states reach each
    other (probabilities as Kaldi sets them)."""
    def entry(phones: list[int], body: list[str]) -> list[str]:
        return ["<TopologyEntry>", "<ForPhones>", " ".join(map(str, phones)), "</ForPhones>", *body,
                "</TopologyEntry>"]

    nonsil = [f"<State> {s} <PdfClass> {s} <Transition> {s} 0.75 <Transition> {s + 1} 0.25 </State>"
              for s in range(num_nonsil_states)] + [f"<State> {num_nonsil_states} </State>"]
    n = num_sil_states
    if n == 1:
        sil = ["<State> 0 <PdfClass> 0 <Transition> 0 0.75 <Transition> 1 0.25 </State>", "<State> 1 </State>"]
    else:
        p = 1.0 / (n - 1)
        # state 0 reaches every emitting state but the last; middle states reach states 1..n-1
        sil = ["<State> 0 <PdfClass> 0 " + " ".join(f"<Transition> {t} {p:g}" for t in range(n - 1)) + " </State>"]
        for s in range(1, n - 1):
            sil.append(f"<State> {s} <PdfClass> {s} " + " ".join(f"<Transition> {t} {p:g}" for t in range(1, n))
                       + " </State>")
        sil.append(f"<State> {n - 1} <PdfClass> {n - 1} <Transition> {n - 1} 0.75 <Transition> {n} 0.25 </State>")
        sil.append(f"<State> {n} </State>")
    lines = ["<Topology>", *entry(nonsil_ids, nonsil), *entry(sil_ids, sil), "</Topology>"]
    return "\n".join(lines) + "\n"


def read_symbol_table(path: str | os.PathLike) -> dict[str, int]:
    table: dict[str, int] = {}
    for n, (sym, idx) in read_table(path, 2, 2):
        try:
            table[sym] = int(idx)
        except ValueError:
            raise DataError(path, f"symbol id {idx!r} is not an integer", n) from None
    return table


def write_symbol_table(path: str | os.PathLike, symbols: list[str]) -> None:
    with atomic_write(path) as f:
        f.writelines(f"{s} {i}\n" for i, s in enumerate(symbols))


# What a prepared lang dir holds that training, alignment and graphs read (so stages record their digests).
LANG_FILES = ("phones.txt", "words.txt", "topo", "L_disambig.fst", "phones/silence.txt")


@dataclass
class Lang:
    """A prepared lang dir, read back."""

    path: Path
    phones: dict[str, int]
    words: dict[str, int]
    silence: list[str]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Lang":
        path = Path(path)
        for name in LANG_FILES:
            if not (path / name).is_file():
                raise DataError(path / name, "missing from the lang dir (run prepare_lang.py)")
        silence = (path / "phones/silence.txt").read_text().split()
        return cls(path, read_symbol_table(path / "phones.txt"), read_symbol_table(path / "words.txt"), silence)

    @staticmethod
    def files(path: str | os.PathLike) -> list[Path]:
        return [Path(path) / name for name in LANG_FILES]

    @property
    def id2phone(self) -> dict[int, str]:
        return {i: p for p, i in self.phones.items()}

    @property
    def id2word(self) -> dict[int, str]:
        return {i: w for w, i in self.words.items()}

    @property
    def disambig_phone_ids(self) -> list[int]:
        return [i for p, i in self.phones.items() if p.startswith("#")]

    @property
    def real_phones(self) -> list[str]:
        """Phones in id order, without <eps> and disambiguation symbols."""
        return [p for p, _ in sorted(self.phones.items(), key=lambda kv: kv[1]) if p != EPS and not p.startswith("#")]

    @property
    def silence_ids(self) -> list[int]:
        return [self.phones[p] for p in self.silence]

    def topology(self) -> khg.HmmTopology:
        topo = khg.HmmTopology()
        topo.read((self.path / "topo").read_text())
        return topo

    def lexicon_fst(self) -> kaldifst.StdVectorFst:
        fst = kaldifst.StdVectorFst.read(str(self.path / "L_disambig.fst"))
        kaldifst.arcsort(fst, sort_type="olabel")
        return fst

    def word_ids(self, words: list[str], where: str = "") -> list[int]:
        """Word ids of a transcript; DataError naming the unknown word (and `where`, e.g. file:line)."""
        try:
            return [self.words[w] for w in words]
        except KeyError as e:
            raise DataError(where or self.path / "words.txt", f"{e.args[0]!r} is not in {self.path}/words.txt") \
                from None


def _lexicon_fst(phone_ids: dict[str, int], word_ids: dict[str, int], words: list[str],
                 with_disambig: bool) -> kaldifst.StdVectorFst:
    """One loop state: each phone-word is a phone:word self-loop (Kaldi's make_lexicon_fst.pl with one-phone
    pronunciations and no optional silence); L_disambig adds #0:#0 for G's backoff arcs."""
    fst = kaldifst.StdVectorFst()
    s = fst.add_state()
    fst.start = s
    fst.set_final(s, 0.0)
    for w in words:
        fst.add_arc(s, kaldifst.StdArc(phone_ids[w], word_ids[w], 0.0, s))
    if with_disambig:
        fst.add_arc(s, kaldifst.StdArc(phone_ids[DISAMBIG], word_ids[DISAMBIG], 0.0, s))
    kaldifst.arcsort(fst, sort_type="olabel")
    return fst


def prepare_phone_lang(out_dir: str | os.PathLike, phones: list[str], silence: list[str],
                       num_nonsil_states: int = 3, num_sil_states: int = 5) -> Lang:
    """Write a phone-level lang dir. `phones` are all real phones; `silence` those that are silence."""
    out = Path(out_dir)
    unknown = [p for p in silence if p not in phones]
    if unknown:
        raise DataError(out, f"silence phones {unknown} are not among the phones")
    nonsil = sorted(p for p in phones if p not in silence)
    phone_list = [EPS, *silence, *nonsil, DISAMBIG]
    word_list = [EPS, *silence, *nonsil, DISAMBIG, BOS, EOS]
    (out / "phones").mkdir(parents=True, exist_ok=True)
    write_symbol_table(out / "phones.txt", phone_list)
    write_symbol_table(out / "words.txt", word_list)
    phone_ids = {p: i for i, p in enumerate(phone_list)}
    word_ids = {w: i for i, w in enumerate(word_list)}
    with atomic_write(out / "topo") as f:
        f.write(topology_text([phone_ids[p] for p in nonsil], [phone_ids[p] for p in silence],
                              num_nonsil_states, num_sil_states))
    real = [*silence, *nonsil]
    for name, with_disambig in (("L.fst", False), ("L_disambig.fst", True)):
        fst = _lexicon_fst(phone_ids, word_ids, real, with_disambig)
        tmp = out / f".{name}.tmp"
        fst.write(str(tmp))
        os.replace(tmp, out / name)
    sets = {
        "silence": silence, "nonsilence": nonsil, "optional_silence": silence[:1], "disambig": [DISAMBIG],
        "context_indep": silence, "wdisambig": [DISAMBIG], "extra_questions": [],
    }
    for name, members in sets.items():
        with atomic_write(out / f"phones/{name}.txt") as f:
            f.writelines(p + "\n" for p in members)
        with atomic_write(out / f"phones/{name}.int") as f:
            f.writelines(f"{phone_ids[p]}\n" for p in members)
        with atomic_write(out / f"phones/{name}.csl") as f:
            f.write(":".join(str(phone_ids[p]) for p in members) + "\n")
    with atomic_write(out / "phones/wdisambig_phones.int") as f:
        f.write(f"{phone_ids[DISAMBIG]}\n")
    with atomic_write(out / "phones/wdisambig_words.int") as f:
        f.write(f"{word_ids[DISAMBIG]}\n")
    # lattice-align-words-lexicon's table: word, word, its phones (each word is its own phone here)
    with atomic_write(out / "phones/align_lexicon.txt") as f:
        f.writelines(f"{p} {p} {p}\n" for p in real)
    with atomic_write(out / "phones/align_lexicon.int") as f:
        f.writelines(f"{word_ids[p]} {word_ids[p]} {phone_ids[p]}\n" for p in real)
    oov = silence[0]        # Kaldi's TIMIT recipe: prepare_lang.sh ... data/local/dict "sil" ...
    with atomic_write(out / "oov.txt") as f:
        f.write(f"{oov}\n")
    with atomic_write(out / "oov.int") as f:
        f.write(f"{word_ids[oov]}\n")
    # Tree roots as Kaldi's prepare_lang writes them: one set per phone; silence states are not split by
    # context (context-independent), other phones share one root per phone with splitting allowed.
    with atomic_write(out / "phones/sets.txt") as f:
        f.writelines(p + "\n" for p in real)
    with atomic_write(out / "phones/sets.int") as f:
        f.writelines(f"{phone_ids[p]}\n" for p in real)
    with atomic_write(out / "phones/roots.txt") as f:
        f.writelines(f"{'not-shared not-split' if p in silence else 'shared split'} {p}\n" for p in real)
    with atomic_write(out / "phones/roots.int") as f:
        f.writelines(f"{'not-shared not-split' if p in silence else 'shared split'} {phone_ids[p]}\n"
                     for p in real)
    return Lang.load(out)
