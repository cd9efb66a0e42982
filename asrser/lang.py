"""Kaldi lang directories: prepare_lang() from a Kaldi dict dir, prepare_phone_lang() for phone recognition.

prepare_lang() is Kaldi's utils/prepare_lang.sh with its default options (no --unk-fst, no silprob lexicon, no
--share-silence-phones, no extra disambiguation symbols): it reads a dict dir (asrser.dict_dir) and writes
phones.txt (<eps>, silence, nonsilence, #0..#N), words.txt (<eps>, sorted words, #0, <s>, </s>), topo,
L.fst (optional silence at sil_prob, pronunciation probabilities as costs: utils/lang/make_lexicon_fst.py),
L_disambig.fst (disambiguation symbols from utils/add_lex_disambig.pl, a silence disambiguation symbol, #0:#0
self-loops for G's backoff arcs), oov.txt, oov.int and
phones/{silence,nonsilence,optional_silence,disambig,context_indep}.{txt,int,csl},
phones/{sets,extra_questions}.{txt,int}, phones/roots.{txt,int}, phones/word_boundary.{txt,int} (word-position
dependent phones only), phones/align_lexicon.{txt,int}, phones/wdisambig.txt, phones/wdisambig_{phones,words}.int.
Word-position-dependent phones carry _B (begin), _I (internal), _E (end) or _S (singleton); a silence phone also
keeps its bare form, used for the optional silence between words.

prepare_phone_lang() writes what Kaldi's utils/prepare_lang.sh writes for TIMIT (position-independent phones,
no optional silence: silence is a word of the phone LM, and the OOV word, as in Kaldi's TIMIT recipe):
phones.txt, words.txt, topo, L.fst, L_disambig.fst, oov.txt, oov.int and
phones/{silence,nonsilence,optional_silence,disambig,context_indep,wdisambig,extra_questions}.{txt,int,csl},
phones/{roots,sets,align_lexicon}.{txt,int}, phones/wdisambig_{phones,words}.int.

Lang.load() reads either kind back, and Kaldi's own lang dirs. What consumers of the phone structure use:
  Lang.word_boundary  {phone id: "nonword" | "begin" | "end" | "internal" | "singleton"} (phones/word_boundary.int;
                      empty for a position-independent lang)
  Lang.position_dependent, Lang.base_phone {phone id: base phone name, suffix stripped} (every real phone),
  Lang.base_phone_name(name), Lang.sets (phones/sets.int), Lang.roots (phones/roots.int),
  Lang.extra_questions (phones/extra_questions.int), Lang.optional_silence_id, Lang.oov_word.
"""

from __future__ import annotations

import math
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import kaldifst
import kaldi_hmm_gmm as khg

from .errors import AsrserError, DataError
from .fileio import atomic_write, read_table

EPS = "<eps>"
DISAMBIG = "#0"     # G's backoff arcs carry #0; L_disambig passes it through
BOS, EOS = "<s>", "</s>"
# Kaldi's word-position suffixes and phones/word_boundary.txt categories; a bare silence phone is "nonword".
POSITION_SUFFIXES = {"_B": "begin", "_E": "end", "_I": "internal", "_S": "singleton"}


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

    def _int_lines(self, name: str) -> list[list[int]] | None:
        """Lines of phones/<name>.int as integer lists; None when the file is absent."""
        path = self.path / "phones" / f"{name}.int"
        if not path.is_file():
            return None
        try:
            return [[int(x) for x in fields] for _, fields in read_table(path, 1)]
        except ValueError:
            raise DataError(path, "holds a field that is not an integer") from None

    @cached_property
    def word_boundary(self) -> dict[int, str]:
        """{phone id: nonword | begin | end | internal | singleton} from phones/word_boundary.int (Kaldi's
        word-boundary table); empty for a position-independent lang."""
        path = self.path / "phones/word_boundary.int"
        if not path.is_file():
            return {}
        table = {}
        for n, (phone, kind) in read_table(path, 2, 2):
            if kind not in ("nonword", *POSITION_SUFFIXES.values()) or not phone.isdigit():
                raise DataError(path, "expected `phone-id nonword|begin|end|internal|singleton`", n)
            table[int(phone)] = kind
        return table

    @property
    def position_dependent(self) -> bool:
        return bool(self.word_boundary)

    def base_phone_name(self, phone: str) -> str:
        """A phone's name without its word-position suffix (AA1_B -> AA1); unchanged in a position-independent
        lang (Kaldi forbids the suffixes in dict-dir phone names, so a suffix is always a position)."""
        if self.position_dependent and phone[-2:] in POSITION_SUFFIXES:
            return phone[:-2]
        return phone

    @cached_property
    def base_phone(self) -> dict[int, str]:
        """{phone id: base phone name} for every real phone (no <eps>, no #n): what alignments, CTMs and
        phone error rates report."""
        return {self.phones[p]: self.base_phone_name(p) for p in self.real_phones}

    @cached_property
    def sets(self) -> list[list[int]]:
        """phones/sets.int: the phone sets of monophone clustering and tree questions (one line of
        nonsilence_phones.txt / silence_phones.txt with all its position variants); one set per real phone
        when the file is absent."""
        lines = self._int_lines("sets")
        return lines if lines is not None else [[self.phones[p]] for p in self.real_phones]

    @cached_property
    def roots(self) -> list[tuple[bool, bool, list[int]]]:
        """phones/roots.int as (shared, split, phone ids): `shared` = the phones' HMM states share one tree
        root, `split` = the tree may split it. Kaldi's prepare_lang writes `shared split` for every set."""
        path = self.path / "phones/roots.int"
        if not path.is_file():
            raise DataError(path, "missing from the lang dir")
        roots = []
        for n, fields in read_table(path, 3):
            shared, split, ids = fields[0], fields[1], fields[2:]
            if shared not in ("shared", "not-shared") or split not in ("split", "not-split") \
                    or not all(x.isdigit() for x in ids):
                raise DataError(path, "expected `shared|not-shared split|not-split phone-id...`", n)
            roots.append((shared == "shared", split == "split", [int(x) for x in ids]))
        return roots

    @cached_property
    def extra_questions(self) -> list[list[int]]:
        """phones/extra_questions.int (empty when absent)."""
        return self._int_lines("extra_questions") or []

    @property
    def optional_silence_id(self) -> int:
        """The phone the lexicon puts between words (phones/optional_silence.txt)."""
        name = (self.path / "phones/optional_silence.txt").read_text().split()
        if len(name) != 1 or name[0] not in self.phones:
            raise DataError(self.path / "phones/optional_silence.txt", "expected one phone of phones.txt")
        return self.phones[name[0]]

    @property
    def oov_word(self) -> str | None:
        """oov.txt: the word that stands for words outside the vocabulary (None when the file is absent)."""
        path = self.path / "oov.txt"
        if not path.is_file():
            return None
        return path.read_text().strip() or None

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


# --- prepare_lang: a lang dir from a Kaldi dict dir (utils/prepare_lang.sh) ---

def position_variants(phone: str, silence: bool, position_dependent: bool = True) -> list[str]:
    """Kaldi's phone_map.txt row: AA -> AA_B AA_E AA_I AA_S; a silence phone also keeps its bare form
    (SIL -> SIL SIL_B SIL_E SIL_I SIL_S) for the optional silence between words."""
    if not position_dependent:
        return [phone]
    return ([phone] if silence else []) + [phone + s for s in ("_B", "_E", "_I", "_S")]


def mark_word_positions(phones: list[str]) -> list[str]:
    """A pronunciation's phones with their word positions: [a] -> [a_S]; [a, b, c] -> [a_B, b_I, c_E]."""
    if len(phones) == 1:
        return [phones[0] + "_S"]
    return [phones[0] + "_B", *(p + "_I" for p in phones[1:-1]), phones[-1] + "_E"]


def add_lex_disambig(prons: list[list[str]], first_allowed: int = 1) -> tuple[list[list[str]], int]:
    """Kaldi's utils/add_lex_disambig.pl: append #1, #2, ... to every pronunciation that is shared by several
    entries (homophones) or is a prefix of another, so that L o G determinizes. Returns the pronunciations
    and the highest symbol used (first_allowed - 1 when none was needed)."""
    count = Counter(tuple(p) for p in prons)
    prefixes = {tuple(p[:k]) for p in prons for k in range(len(p))}
    highest = first_allowed - 1
    last_used: dict[tuple[str, ...], int] = {}
    out = []
    for pron in prons:
        key = tuple(pron)
        if key not in prefixes and count[key] == 1:
            out.append(list(pron))
            continue
        symbol = last_used[key] + 1 if key in last_used else first_allowed
        last_used[key] = symbol
        highest = max(highest, symbol)
        out.append([*pron, f"#{symbol}"])
    return out, highest


def make_lexicon_fst(entries: list[tuple[int, float, list[int]]], sil_prob: float, sil_phone: int,
                     sil_disambig: int | None = None) -> kaldifst.StdVectorFst:
    """Kaldi's utils/lang/make_lexicon_fst.py on (word id, pron prob, phone ids), states and arcs in its order.

    With sil_prob > 0: state 0 is the start, 1 the loop state words leave from and return to (the only final
    state), 2 the silence state: <eps> arcs 0->1 cost -log(1 - sil_prob) and 0->2 cost -log(sil_prob); 2->1
    reads the optional silence (through one more state reading `sil_disambig` when given). A word's first arc
    reads its first phone and writes the word at cost -log(prob); its last phone has two arcs: to the loop state
    (+ -log(1 - sil_prob)) and to the silence state (+ -log(sil_prob)). With sil_prob = 0 the loop state is the
    start and there is no silence.
    """
    fst = kaldifst.StdVectorFst()

    def arc(src: int, dst: int, ilabel: int, olabel: int, cost: float) -> None:
        fst.add_arc(src, kaldifst.StdArc(ilabel, olabel, cost, dst))

    def word_arcs(loop: int, ends: list[tuple[int, float]]) -> None:
        """Each pronunciation as a chain from the loop state, the word (and the pronunciation's cost) on its
        first arc; its last phone goes to each of `ends` (state, extra cost)."""
        for word, prob, phones in entries:
            cost, state = -math.log(prob), loop
            for i, phone in enumerate(phones[:-1]):
                nxt = fst.add_state()
                arc(state, nxt, phone, word if i == 0 else 0, cost if i == 0 else 0.0)
                state = nxt
            last = len(phones) == 1
            for end, extra in ends:
                arc(state, end, phones[-1], word if last else 0, extra + (cost if last else 0.0))

    if sil_prob == 0.0:
        loop = fst.add_state()
        fst.start = loop
        word_arcs(loop, [(loop, 0.0)])
        fst.set_final(loop, 0.0)
        return fst

    if not 0.0 < sil_prob < 1.0:
        raise AsrserError(f"sil-prob must be in [0, 1), got {sil_prob}")
    sil_cost, no_sil_cost = -math.log(sil_prob), -math.log(1.0 - sil_prob)
    start, loop, sil = fst.add_state(), fst.add_state(), fst.add_state()
    fst.start = start
    arc(start, loop, 0, 0, no_sil_cost)
    arc(start, sil, 0, 0, sil_cost)
    if sil_disambig is None:
        arc(sil, loop, sil_phone, 0, 0.0)
    else:
        disambig_state = fst.add_state()
        arc(sil, disambig_state, sil_phone, 0, 0.0)
        arc(disambig_state, loop, sil_disambig, 0, 0.0)
    word_arcs(loop, [(loop, no_sil_cost), (sil, sil_cost)])
    fst.set_final(loop, 0.0)
    return fst


def _write_fst(fst: kaldifst.StdVectorFst, path: Path) -> None:
    kaldifst.arcsort(fst, sort_type="olabel")
    tmp = path.with_name(f".{path.name}.tmp")
    fst.write(str(tmp))
    os.replace(tmp, path)


def _write_lines(path: Path, lines: list[str]) -> None:
    with atomic_write(path) as f:
        f.writelines(line + "\n" for line in lines)


def prepare_lang(dict_dir: str | os.PathLike, out_dir: str | os.PathLike, oov_word: str,
                 position_dependent: bool = True, sil_prob: float = 0.5, num_nonsil_states: int = 3,
                 num_sil_states: int = 5, tmp_dir: str | os.PathLike | None = None) -> Lang:
    """Kaldi's utils/prepare_lang.sh <dict_dir> <oov_word> <tmp_dir> <out_dir> (see the module docstring).

    The lang dir is built beside `out_dir` and renamed over it when complete. `tmp_dir`, when given, receives
    Kaldi's intermediate lexiconp.txt (with word positions), lexiconp_disambig.txt, phone_map.txt and
    lex_ndisambig, for inspection."""
    from .dict_dir import read_dict_dir

    d = read_dict_dir(dict_dir)
    if oov_word not in d.words:
        raise DataError(d.lexicon_path, f"the OOV word {oov_word!r} has no pronunciation in the lexicon")
    if not 0.0 <= sil_prob < 1.0:
        raise AsrserError(f"sil-prob must be in [0, 1), got {sil_prob}")
    if num_nonsil_states < 1 or not (num_sil_states == 1 or num_sil_states >= 3):
        raise AsrserError(f"bad HMM sizes: {num_nonsil_states} nonsilence states (>= 1), "
                          f"{num_sil_states} silence states (1 or >= 3)")

    def variants(line: list[str], silence: bool) -> list[str]:
        return [v for p in line for v in position_variants(p, silence, position_dependent)]

    sets = [variants(line, True) for line in d.silence] + [variants(line, False) for line in d.nonsilence]
    silence = [v for line in d.silence for v in variants(line, True)]
    nonsilence = [v for line in d.nonsilence for v in variants(line, False)]
    silence_set = {p for line in d.silence for p in line}
    # the dict's questions through the phone map (a silence phone keeps its bare form there too)
    extra_questions = [[v for p in q for v in position_variants(p, p in silence_set, position_dependent)]
                       for q in d.extra_questions]
    if position_dependent:      # Kaldi's questions about word position, for nonsilence and silence apart
        flat_nonsil = [p for line in d.nonsilence for p in line]
        flat_sil = [p for line in d.silence for p in line]
        extra_questions += [[p + s for p in flat_nonsil] for s in ("_B", "_E", "_I", "_S")]
        extra_questions += [[p + s for p in flat_sil] for s in ("", "_B", "_E", "_I", "_S")]

    prons = [mark_word_positions(e.phones) if position_dependent else list(e.phones) for e in d.lexicon]
    prons_disambig, highest = add_lex_disambig(prons)
    num_disambig = highest + 1      # one more for the optional silence in L_disambig
    disambig = [f"#{n}" for n in range(num_disambig + 1)]

    phone_list = [EPS, *silence, *nonsilence, *disambig]
    words = sorted(d.words)
    word_list = [EPS, *words, DISAMBIG, BOS, EOS]
    phone_ids = {p: i for i, p in enumerate(phone_list)}
    word_ids = {w: i for i, w in enumerate(word_list)}

    out = Path(out_dir)
    build = out.with_name(f".{out.name}.tmp")
    if build.exists():
        shutil.rmtree(build)
    (build / "phones").mkdir(parents=True)
    write_symbol_table(build / "phones.txt", phone_list)
    write_symbol_table(build / "words.txt", word_list)

    def write_set(name: str, members: list[str], csl: bool) -> None:
        _write_lines(build / f"phones/{name}.txt", members)
        _write_lines(build / f"phones/{name}.int", [str(phone_ids[p]) for p in members])
        if csl:
            _write_lines(build / f"phones/{name}.csl", [":".join(str(phone_ids[p]) for p in members)])

    for name, members in (("silence", silence), ("nonsilence", nonsilence),
                          ("optional_silence", [d.optional_silence]), ("disambig", disambig),
                          ("context_indep", silence)):
        write_set(name, members, csl=True)
    for name, lines in (("sets", sets), ("extra_questions", extra_questions)):
        _write_lines(build / f"phones/{name}.txt", [" ".join(line) for line in lines])
        _write_lines(build / f"phones/{name}.int", [" ".join(str(phone_ids[p]) for p in line) for line in lines])
    _write_lines(build / "phones/roots.txt", ["shared split " + " ".join(line) for line in sets])
    _write_lines(build / "phones/roots.int", ["shared split " + " ".join(str(phone_ids[p]) for p in line)
                                              for line in sets])
    if position_dependent:
        boundary = [(p, POSITION_SUFFIXES.get(p[-2:], "nonword")) for p in silence + nonsilence]
        _write_lines(build / "phones/word_boundary.txt", [f"{p} {kind}" for p, kind in boundary])
        _write_lines(build / "phones/word_boundary.int", [f"{phone_ids[p]} {kind}" for p, kind in boundary])

    # lattice-align-words-lexicon's table: `word word phones`, plus the optional silence as <eps>; sorted, unique
    align = sorted({f"{e.word} {e.word} {' '.join(pron)}" for e, pron in zip(d.lexicon, prons)}
                   | {f"{EPS} {EPS} {d.optional_silence}"})
    _write_lines(build / "phones/align_lexicon.txt", align)
    _write_lines(build / "phones/align_lexicon.int",
                 [" ".join([str(word_ids[f[0]]), str(word_ids[f[1]]), *(str(phone_ids[p]) for p in f[2:])])
                  for f in (line.split() for line in align)])
    _write_lines(build / "oov.txt", [oov_word])
    _write_lines(build / "oov.int", [str(word_ids[oov_word])])
    _write_lines(build / "phones/wdisambig.txt", [DISAMBIG])
    _write_lines(build / "phones/wdisambig_phones.int", [str(phone_ids[DISAMBIG])])
    _write_lines(build / "phones/wdisambig_words.int", [str(word_ids[DISAMBIG])])
    with atomic_write(build / "topo") as f:
        f.write(topology_text([phone_ids[p] for p in nonsilence], [phone_ids[p] for p in silence],
                              num_nonsil_states, num_sil_states))

    sil_phone = phone_ids[d.optional_silence]
    entries = [(word_ids[e.word], e.prob, [phone_ids[p] for p in pron]) for e, pron in zip(d.lexicon, prons)]
    _write_fst(make_lexicon_fst(entries, sil_prob, sil_phone), build / "L.fst")
    entries = [(word_ids[e.word], e.prob, [phone_ids[p] for p in pron])
               for e, pron in zip(d.lexicon, prons_disambig)]
    l_disambig = make_lexicon_fst(entries, sil_prob, sil_phone, phone_ids[f"#{num_disambig}"])
    kaldifst.add_self_loops(l_disambig, [phone_ids[DISAMBIG]], [word_ids[DISAMBIG]])
    _write_fst(l_disambig, build / "L_disambig.fst")

    if tmp_dir is not None:
        tmp = Path(tmp_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        _write_lines(tmp / "lexiconp.txt", [f"{e.word} {e.prob:g} {' '.join(p)}" for e, p in zip(d.lexicon, prons)])
        _write_lines(tmp / "lexiconp_disambig.txt",
                     [f"{e.word}\t{e.prob:g}\t{' '.join(p)}" for e, p in zip(d.lexicon, prons_disambig)])
        _write_lines(tmp / "phone_map.txt",
                     [" ".join([p, *position_variants(p, s, position_dependent)])
                      for lines, s in ((d.silence, True), (d.nonsilence, False)) for line in lines for p in line])
        _write_lines(tmp / "lex_ndisambig", [str(num_disambig)])

    if out.exists():
        shutil.rmtree(out)
    os.replace(build, out)
    return Lang.load(out)
