"""Kaldi's HmmTopology and TransitionModel on disk (hmm/hmm-topology.cc, hmm/transition-model.cc).

The wheels' kaldi_hmm_gmm.TransitionModel has no Read/Write, so the file format is written and read here,
token by token as Kaldi's TransitionModel::Write/Read do, and converted to and from the wheels' objects through
their __getstate__/__setstate__ state (tuples, topology, state2id, id2state, id2pdf, num_pdfs, log_probs,
non-self-loop log-probs). Everything read is checked before it reaches the wheels' C++ (which trusts its
state): a bad file is an error naming it, never a crash.

Current Kaldi writes <Triples> (phone hmm-state pdf) when every HMM state has the same pdf-class on its
self-loop and forward transitions ("IsHmm"), else <Tuples> (phone hmm-state forward-pdf self-loop-pdf), and in
binary a topology that is not HMM-like carries a -1 before its entry count; both forms are read, and written by
the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import _kaldi_hmm_gmm
import kaldi_hmm_gmm as khg
import numpy as np

from .stream import Reader, Writer, describe_token, object_reader

NO_PDF = -1     # Kaldi's kNoPdf: a non-emitting HMM state


@dataclass(frozen=True)
class HmmState:
    """One state of a topology entry: pdf-classes of its forward and self-loop transitions (-1: non-emitting)
    and its transitions (destination state, probability)."""
    forward_pdf_class: int
    self_loop_pdf_class: int
    transitions: tuple[tuple[int, float], ...]


@dataclass
class Topology:
    """Kaldi's HmmTopology: entries of HMM states, and for each phone the index of its entry (-1: none)."""
    entries: list[list[HmmState]]
    phone2idx: list[int]

    @property
    def phones(self) -> list[int]:
        return [p for p, i in enumerate(self.phone2idx) if i != -1]

    def is_hmm(self) -> bool:
        return all(s.forward_pdf_class == s.self_loop_pdf_class for e in self.entries for s in e)

    def entry(self, phone: int) -> list[HmmState]:
        return self.entries[self.phone2idx[phone]]

    def num_pdf_classes(self, phone: int) -> int:
        classes = [c for s in self.entry(phone) for c in (s.forward_pdf_class, s.self_loop_pdf_class)]
        return max(classes) + 1

    # -- I/O ------------------------------------------------------------------------------------------
    @classmethod
    def read(cls, r: Reader) -> "Topology":
        r.expect("<Topology>")
        if r.binary:
            phones = r.int_vector("the phones of the topology").tolist()
            phone2idx = r.int_vector("the topology's phone-to-entry table").tolist()
            count = r.int32("the number of topology entries")
            is_hmm = count != -1
            if not is_hmm:
                count = r.int32("the number of topology entries")
            if not 0 < count <= 100000:
                raise r.error(f"implausible number of topology entries: {count}")
            entries = []
            for _ in range(count):
                num_states = r.int32("the number of states of a topology entry")
                if not 0 < num_states <= 1000:
                    raise r.error(f"implausible number of HMM states in a topology entry: {num_states}")
                states = []
                for _ in range(num_states):
                    forward = r.int32("a pdf-class")
                    self_loop = forward if is_hmm else r.int32("a self-loop pdf-class")
                    num_trans = r.int32("the number of transitions of an HMM state")
                    if not 0 <= num_trans <= 1000:
                        raise r.error(f"implausible number of transitions of an HMM state: {num_trans}")
                    trans = tuple((r.int32("a destination state"), r.float("a transition probability"))
                                  for _ in range(num_trans))
                    states.append(HmmState(forward, self_loop, trans))
                entries.append(states)
            r.expect("</Topology>")
            topo = cls(entries, phone2idx)
            if sorted(set(phones)) != phones or phones != topo.phones:
                raise r.error("the topology's phone list does not match its phone-to-entry table")
        else:
            topo = cls._read_text(r)
        topo.check(r)
        return topo

    @classmethod
    def _read_text(cls, r: Reader) -> "Topology":
        entries: list[list[HmmState]] = []
        phone2idx: list[int] = []
        while True:
            token = r.token("<TopologyEntry> or </Topology>")
            if token == "</Topology>":
                return cls(entries, phone2idx)
            if token != "<TopologyEntry>":
                raise r.error(f"expected <TopologyEntry> or </Topology>, found {describe_token(token)}")
            r.expect("<ForPhones>")
            phones = []
            while (token := r.token("a phone or </ForPhones>")) != "</ForPhones>":
                if not token.isdigit() or int(token) == 0:
                    raise r.error(f"expected a phone id (a positive integer) in <ForPhones>, found "
                                  f"{describe_token(token)}")
                phones.append(int(token))
            states: list[HmmState] = []
            token = r.token("<State> or </TopologyEntry>")
            while token != "</TopologyEntry>":
                if token != "<State>":
                    raise r.error(f"expected <State> or </TopologyEntry>, found {describe_token(token)}")
                number = r.int32("a state number")
                if number != len(states):
                    raise r.error(f"topology states must be numbered in order from 0: expected {len(states)}, "
                                  f"found {number}")
                token = r.token("the rest of a <State>")
                forward = self_loop = NO_PDF
                if token == "<PdfClass>":
                    forward = self_loop = r.int32("a pdf-class")
                    token = r.token("the rest of a <State>")
                elif token == "<ForwardPdfClass>":
                    forward = r.int32("a pdf-class")
                    r.expect("<SelfLoopPdfClass>")
                    self_loop = r.int32("a pdf-class")
                    token = r.token("the rest of a <State>")
                trans = []
                while token == "<Transition>":
                    trans.append((r.int32("a destination state"), r.float("a transition probability")))
                    token = r.token("the rest of a <State>")
                if token != "</State>":
                    raise r.error(f"expected <Transition> or </State>, found {describe_token(token)}")
                states.append(HmmState(forward, self_loop, tuple(trans)))
                token = r.token("<State> or </TopologyEntry>")
            for phone in phones:
                if phone < len(phone2idx) and phone2idx[phone] != -1:
                    raise r.error(f"phone {phone} is in more than one topology entry")
                phone2idx.extend([-1] * (phone + 1 - len(phone2idx)))
                phone2idx[phone] = len(entries)
            entries.append(states)

    def write(self, w: Writer) -> None:
        """HmmTopology::Write."""
        is_hmm = self.is_hmm()
        w.token("<Topology>")
        if w.binary:
            w.int_vector(self.phones)
            w.int_vector(self.phone2idx)
            if not is_hmm:
                w.int32(-1)
            w.int32(len(self.entries))
            for entry in self.entries:
                w.int32(len(entry))
                for state in entry:
                    w.int32(state.forward_pdf_class)
                    if not is_hmm:
                        w.int32(state.self_loop_pdf_class)
                    w.int32(len(state.transitions))
                    for dest, prob in state.transitions:
                        w.int32(dest)
                        w.float32(prob)
        else:
            w.raw("\n")
            for i, entry in enumerate(self.entries):
                w.token("<TopologyEntry>")
                w.raw("\n")
                w.token("<ForPhones>")
                w.raw("\n" + "".join(f"{p} " for p, idx in enumerate(self.phone2idx) if idx == i) + "\n")
                w.token("</ForPhones>")
                w.raw("\n")
                for number, state in enumerate(entry):
                    w.token("<State>")
                    w.int32(number)
                    if state.forward_pdf_class != NO_PDF:
                        if is_hmm:
                            w.token("<PdfClass>")
                            w.int32(state.forward_pdf_class)
                        else:
                            w.token("<ForwardPdfClass>")
                            w.int32(state.forward_pdf_class)
                            w.token("<SelfLoopPdfClass>")
                            w.int32(state.self_loop_pdf_class)
                    for dest, prob in state.transitions:
                        w.token("<Transition>")
                        w.int32(dest)
                        w.float32(prob)
                    w.token("</State>")
                    w.raw("\n")
                w.token("</TopologyEntry>")
                w.raw("\n")
        w.token("</Topology>")
        w.newline()

    def text(self) -> str:
        w = Writer(binary=False)
        self.write(w)
        return w.getvalue().decode()

    def check(self, r: Reader) -> None:
        """HmmTopology::Check, and what the wheels' C++ would otherwise index out of range."""
        if not self.entries or not self.phones:
            raise r.error("the topology has no entries or no phones")
        if any(i < -1 or i >= len(self.entries) for i in self.phone2idx):
            raise r.error("the topology's phone-to-entry table points outside its entries")
        used = {i for i in self.phone2idx if i != -1}
        if len(used) != len(self.entries):
            raise r.error("a topology entry has no phones")
        for n, entry in enumerate(self.entries):
            last = len(entry) - 1
            if last < 1:
                raise r.error(f"topology entry {n} has no emitting state")
            if entry[last].transitions or entry[last].forward_pdf_class != NO_PDF:
                raise r.error(f"the last state of topology entry {n} must be non-emitting, without transitions")
            reached = {0}
            for s, state in enumerate(entry):
                if (state.forward_pdf_class == NO_PDF) != (state.self_loop_pdf_class == NO_PDF) \
                        or min(state.forward_pdf_class, state.self_loop_pdf_class) < NO_PDF:
                    raise r.error(f"topology entry {n}, state {s}: invalid pdf-classes")
                dests = [dest for dest, _ in state.transitions]
                if len(set(dests)) != len(dests):
                    raise r.error(f"topology entry {n}, state {s}: duplicate transitions")
                for dest, prob in state.transitions:
                    if not 0 <= dest <= last or not prob > 0 or not np.isfinite(prob):
                        raise r.error(f"topology entry {n}, state {s}: invalid transition to {dest} with "
                                      f"probability {prob}")
                    if dest == last and state.forward_pdf_class == NO_PDF:
                        raise r.error(f"topology entry {n}, state {s}: a non-emitting state may not lead to the "
                                      "final state")
                    if dest == s and state.forward_pdf_class == NO_PDF:
                        raise r.error(f"topology entry {n}, state {s}: a non-emitting state with a self-loop")
                reached.update(dests)
                if s < last and not state.transitions:
                    raise r.error(f"topology entry {n}, state {s}: a state without transitions out")
            if len(reached) != len(entry):
                raise r.error(f"topology entry {n}: a state without transitions in")
            classes = sorted({c for st in entry for c in (st.forward_pdf_class, st.self_loop_pdf_class)} - {NO_PDF})
            if classes != list(range(len(classes))):
                raise r.error(f"topology entry {n}: pdf-classes are not 0, 1, 2, ...")

    # -- the wheels -----------------------------------------------------------------------------------
    def to_wheel(self) -> khg.HmmTopology:
        topo = khg.HmmTopology()
        topo.read(self.text())
        return topo

    @classmethod
    def from_wheel(cls, topo: khg.HmmTopology) -> "Topology":
        _, phone2idx, entries = topo.__getstate__()
        return cls([[HmmState(*_state(s)) for s in entry] for entry in entries], list(phone2idx))


def _state(state) -> tuple[int, int, tuple[tuple[int, float], ...]]:
    forward, self_loop, trans = state.__getstate__()
    return forward, self_loop, tuple((int(d), float(p)) for d, p in trans)


@dataclass
class TransitionModel:
    """Kaldi's TransitionModel as stored: topology, sorted (phone, hmm-state, forward-pdf, self-loop-pdf)
    tuples (transition-state s is tuples[s-1]) and log-probabilities indexed by transition-id (index 0 unused).
    """
    topology: Topology
    tuples: list[tuple[int, int, int, int]]
    log_probs: np.ndarray = field(repr=False)   # float32, length num_transition_ids + 1

    @property
    def num_pdfs(self) -> int:
        return 1 + max(max(t[2], t[3]) for t in self.tuples)

    def derived(self) -> tuple[list[int], list[int], list[int]]:
        """ComputeDerived: state2id (indexed by transition-state, one past the end included), id2state and
        id2pdf (indexed by transition-id, entry 0 unused)."""
        state2id, id2state, id2pdf = [0], [0], [0]
        for tstate, (phone, hmm_state, forward_pdf, self_loop_pdf) in enumerate(self.tuples, 1):
            state2id.append(len(id2state))
            for dest, _ in self.topology.entry(phone)[hmm_state].transitions:
                id2state.append(tstate)
                id2pdf.append(self_loop_pdf if dest == hmm_state else forward_pdf)
        state2id.append(len(id2state))
        return state2id, id2state, id2pdf

    @property
    def num_transition_ids(self) -> int:
        return sum(len(self.topology.entry(p)[h].transitions) for p, h, _, _ in self.tuples)

    # -- I/O ------------------------------------------------------------------------------------------
    @classmethod
    def read(cls, r: Reader) -> "TransitionModel":
        r.expect("<TransitionModel>", " (a Kaldi model)")
        topology = Topology.read(r)
        token = r.choice(("<Triples>", "<Tuples>"))
        count = r.int32("the number of transition states")
        if not 0 < count <= 10_000_000:
            raise r.error(f"implausible number of transition states: {count}")
        tuples = []
        for _ in range(count):
            phone, hmm_state, forward = (r.int32("a phone"), r.int32("an HMM state"), r.int32("a pdf-id"))
            self_loop = r.int32("a self-loop pdf-id") if token == "<Tuples>" else forward
            tuples.append((phone, hmm_state, forward, self_loop))
        r.expect(token.replace("<", "</"))
        model = cls(topology, tuples, np.zeros(0, dtype=np.float32))
        model._check_tuples(r)
        r.expect("<LogProbs>")
        model.log_probs = r.vector("the transition log-probabilities").astype(np.float32)
        r.expect("</LogProbs>")
        r.expect("</TransitionModel>")
        model._check_probs(r)
        return model

    def _check_tuples(self, r: Reader) -> None:
        phones = set(self.topology.phones)
        for phone, hmm_state, forward, self_loop in self.tuples:
            where = f"transition state ({phone}, {hmm_state}, {forward}, {self_loop})"
            if phone not in phones:
                raise r.error(f"{where}: phone {phone} is not in the model's topology")
            entry = self.topology.entry(phone)
            if not 0 <= hmm_state < len(entry) or entry[hmm_state].forward_pdf_class == NO_PDF:
                raise r.error(f"{where}: no emitting HMM state {hmm_state} in the topology of phone {phone}")
            if forward < 0 or self_loop < 0:
                raise r.error(f"{where}: negative pdf-id")
        if any(a >= b for a, b in zip(self.tuples, self.tuples[1:])):
            raise r.error("transition states are not sorted (phone, hmm-state, pdf): not written by Kaldi")

    def _check_probs(self, r: Reader) -> None:
        expected = self.num_transition_ids + 1
        if len(self.log_probs) != expected:
            raise r.error(f"expected {expected} transition log-probabilities (one per transition-id, plus one), "
                          f"found {len(self.log_probs)}")
        probs = self.log_probs[1:]
        if not (np.isfinite(probs) & (probs <= 0)).all():
            raise r.error("transition log-probabilities must be finite and at most 0")

    def write(self, w: Writer) -> None:
        """TransitionModel::Write."""
        is_hmm = self.topology.is_hmm()
        w.token("<TransitionModel>")
        w.newline()
        self.topology.write(w)
        name = "Triples" if is_hmm else "Tuples"
        w.token(f"<{name}>")
        w.int32(len(self.tuples))
        w.newline()
        for phone, hmm_state, forward, self_loop in self.tuples:
            w.int32(phone)
            w.int32(hmm_state)
            w.int32(forward)
            if not is_hmm:
                w.int32(self_loop)
            w.newline()
        w.token(f"</{name}>")
        w.newline()
        w.token("<LogProbs>")
        w.newline()
        w.vector(np.asarray(self.log_probs, dtype=np.float32))
        w.token("</LogProbs>")
        w.newline()
        w.token("</TransitionModel>")
        w.newline()

    # -- the wheels -----------------------------------------------------------------------------------
    def to_wheel(self) -> khg.TransitionModel:
        """The wheels' TransitionModel with this state; the non-self-loop log-probabilities are computed by the
        wheels' own ComputeDerivedOfProbs (a transition update with no counts), bit for bit as on training."""
        state2id, id2state, id2pdf = self.derived()
        tuples = [_kaldi_hmm_gmm.TransitionModelTuple(*t) for t in self.tuples]
        tm = khg.TransitionModel.__new__(khg.TransitionModel)
        tm.__setstate__((tuples, self.topology.to_wheel(), state2id, id2state, id2pdf, self.num_pdfs,
                         [float(x) for x in self.log_probs], [0.0] * (len(self.tuples) + 1)))
        tm.mle_update(np.zeros(len(self.log_probs)), khg.MleTransitionUpdateConfig())
        return tm

    @classmethod
    def from_wheel(cls, tm: khg.TransitionModel) -> "TransitionModel":
        tuples, topo, *_ = tm.__getstate__()
        return cls(Topology.from_wheel(topo), [tuple(t.__getstate__()) for t in tuples],
                   np.asarray(tm.log_probs, dtype=np.float32))


def read_transition_model(path) -> TransitionModel:
    """The TransitionModel at the head of a Kaldi model file (a GMM system's final.mdl, an nnet's, or a file
    holding only the transition model), as Kaldi's tools read it (ReadKaldiObject): what follows is not read."""
    return TransitionModel.read(object_reader(path))
