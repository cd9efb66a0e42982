"""Per-transition-id tables of an HMM and what is built on them: the score matrix the wheels' decoders
read, Kaldi's ali-to-phones --write-lengths, and the transition lookup of convert-ali."""

from __future__ import annotations

import kaldi_hmm_gmm as khg
import numpy as np

from .model import HmmModel


def tid_tables(model: HmmModel) -> tuple[np.ndarray, np.ndarray]:
    """Per transition-id: its phone and its HMM state (position in the phone's topology)."""
    tm = model.trans_model
    tuples = [t.__getstate__() for t in tm.tuples]          # (phone, hmm_state, forward_pdf, self_loop_pdf)
    tstate = np.asarray(tm.id2state, dtype=np.int64)         # transition-id -> transition state (1-based)
    phone = np.array([0] + [tuples[s - 1][0] for s in tstate[1:]], dtype=np.int64)
    state = np.array([0] + [tuples[s - 1][1] for s in tstate[1:]], dtype=np.int64)
    return phone, state


def transition_tables(trans_model: khg.TransitionModel) -> tuple[np.ndarray, dict]:
    """(trans_index per transition-id, {(phone, hmm_state, pdf, trans_index): transition-id}) for models
    whose forward and self-loop pdfs coincide (Kaldi's standard topologies)."""
    tuples = [t.__getstate__() for t in trans_model.tuples]
    id2state = np.asarray(trans_model.id2state, dtype=np.int64)
    state2id = np.asarray(trans_model.state2id, dtype=np.int64)
    trans_index = np.zeros(len(id2state), dtype=np.int64)
    lookup = {}
    for tid in range(1, len(id2state)):
        s = id2state[tid]
        trans_index[tid] = tid - state2id[s]
        phone, hmm_state, forward_pdf, _ = tuples[s - 1]
        lookup[(phone, hmm_state, forward_pdf, int(trans_index[tid]))] = tid
    return trans_index, lookup


def scaled_tid_loglik(loglik: np.ndarray, tid2column: np.ndarray, acoustic_scale: float) -> np.ndarray:
    """The matrix the wheels' DecodableCtc reads (column tid-1 for transition-id tid): acoustic_scale *
    loglik[:, tid2column[tid]], from a scorer's per-frame log-likelihoods."""
    return scaled_columns(loglik, np.asarray(tid2column)[1:], acoustic_scale)


def scaled_columns(loglik: np.ndarray, columns: np.ndarray, acoustic_scale: float) -> np.ndarray:
    """acoustic_scale * loglik[:, columns] in float32: a decodable's matrix (column i for input label i+1)."""
    # scaled (and rounded to float) before the columns are repeated for each label: the same values as
    # scaling the repeated matrix, on fewer numbers
    scaled = np.asarray(acoustic_scale * loglik, dtype=np.float32)
    return np.take(scaled, columns, axis=1)


def alignment_to_phone_segments(phone_of: np.ndarray, state_of: np.ndarray, alignment: np.ndarray
                                ) -> list[tuple[int, int]]:
    """ali-to-phones --write-lengths: [(phone id, number of frames)]. A new phone starts where the phone
    changes or state 0 is entered (no topology returns to its state 0 except through a new phone instance;
    silence's inner states do loop back), so identical consecutive phones are kept apart."""
    phones = phone_of[alignment]
    states = state_of[alignment]
    boundary = np.r_[True, (phones[1:] != phones[:-1]) | ((states[1:] == 0) & (states[:-1] != 0))]
    starts = np.flatnonzero(boundary)
    lengths = np.diff(np.r_[starts, len(alignment)])
    return [(int(phones[s]), int(n)) for s, n in zip(starts, lengths)]
