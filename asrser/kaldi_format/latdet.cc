// Pruned lattice determinisation, compiled: the same algorithm, step for step and in the same floating-point
// order, as asrser/kaldi_format/lattice.py's _Determinizer (which documents it and is the reference the tests
// compare this with), for speed. Built by tools/setup.sh into liblatdet.so.1 and called through ctypes; a C ABI
// only, no Python headers.
//
// Input: a raw (state-level) lattice as arrays: per state the offset of its first arc (num_states + 1 values),
// per arc transition-id, word, graph cost, acoustic cost, next state; per state its final (graph, acoustic)
// costs, +inf when not final. Output: the determinised CompactLattice, read back with the latdet_* getters.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <queue>
#include <unordered_map>
#include <vector>

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kDelta = 1.0 / 1024;
const int kAbiVersion = 1;

struct Elem {
  int state;
  double g, a;
  int str;
};

// A hash table from uint64 keys to ints, open addressing (keys are never removed).
class IntTable {
 public:
  IntTable() : keys_(1 << 16, kEmpty), values_(1 << 16) {}
  // the value of key, or -1
  int find(uint64_t key) const {
    for (size_t i = Slot(key);; i = (i + 1) & (keys_.size() - 1)) {
      if (keys_[i] == key) return values_[i];
      if (keys_[i] == kEmpty) return -1;
    }
  }
  void insert(uint64_t key, int value) {
    if (2 * (used_ + 1) > keys_.size()) Grow();
    size_t i = Slot(key);
    while (keys_[i] != kEmpty) i = (i + 1) & (keys_.size() - 1);
    keys_[i] = key;
    values_[i] = value;
    ++used_;
  }

 private:
  static const uint64_t kEmpty = ~0ULL;
  size_t Slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ULL >> 20) & (keys_.size() - 1); }
  void Grow() {
    std::vector<uint64_t> keys(keys_.size() * 2, kEmpty);
    std::vector<int> values(keys.size());
    keys.swap(keys_);
    values.swap(values_);
    used_ = 0;
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] != kEmpty) insert(keys[i], values[i]);
  }
  std::vector<uint64_t> keys_;
  std::vector<int> values_;
  size_t used_ = 0;
};

// Transition-id strings as the nodes of a trie (0: the empty string): appending is one table lookup and a string
// is named by one int, equal strings by the same int.
struct Strings {
  std::vector<int> parent{-1}, depth{0};
  std::vector<int32_t> last{0};
  IntTable child, suffixes;

  static uint64_t Pair(int x, int32_t y) { return (static_cast<uint64_t>(x) << 32) | static_cast<uint32_t>(y); }
  int append(int s, int32_t tid) {
    uint64_t key = Pair(s, tid);
    int id = child.find(key);
    if (id >= 0) return id;
    id = static_cast<int>(parent.size());
    parent.push_back(s);
    depth.push_back(depth[s] + 1);
    last.push_back(tid);
    child.insert(key, id);
    return id;
  }
  size_t size(int s) const { return static_cast<size_t>(depth[s]); }
  void contents(int s, std::vector<int32_t> *out) const {
    out->resize(depth[s]);
    for (int i = depth[s] - 1; i >= 0; --i, s = parent[s]) (*out)[i] = last[s];
  }
  // the longest common prefix of two strings
  int common(int x, int y) const {
    while (depth[x] > depth[y]) x = parent[x];
    while (depth[y] > depth[x]) y = parent[y];
    while (x != y) {
      x = parent[x];
      y = parent[y];
    }
    return x;
  }
  // s without its first k transition-ids
  int suffix(int s, int k) {
    if (k == 0) return s;
    uint64_t key = Pair(s, k);
    int known = suffixes.find(key);
    if (known >= 0) return known;
    int whole = s;
    std::vector<int32_t> tail(depth[s] - k);
    for (int i = static_cast<int>(tail.size()) - 1; i >= 0; --i, s = parent[s]) tail[i] = last[s];
    int t = 0;
    for (int32_t tid : tail) t = append(t, tid);
    suffixes.insert(Pair(whole, k), t);
    return t;
  }
  int concat(int x, int y) {
    if (y == 0) return x;
    std::vector<int32_t> tail;
    contents(y, &tail);
    for (int32_t tid : tail) x = append(x, tid);
    return x;
  }
};

struct KeyHash {
  size_t operator()(const std::vector<std::pair<int, int>> &v) const {
    uint64_t h = 1469598103934665603ULL;
    for (auto &p : v) {
      h = (h ^ static_cast<uint32_t>(p.first)) * 1099511628211ULL;
      h = (h ^ static_cast<uint32_t>(p.second)) * 1099511628211ULL;
    }
    return h;
  }
};

typedef std::vector<std::pair<int, int>> Key;       // (state, string) of each element
typedef std::vector<std::pair<double, double>> Weights;

struct Found {
  int target;
  double g1, a1;
  int rest;
};

struct Task {
  double priority;
  long counter;
  int state, word;
  std::vector<Elem> elems;
};
struct TaskAfter {
  bool operator()(const Task *x, const Task *y) const {
    return x->priority != y->priority ? x->priority > y->priority : x->counter > y->counter;
  }
};

struct OutArc {
  int word, target;
  double g, a;
  int str;
};
struct OutFinal {
  bool is_final = false;
  double g = 0, a = 0;
  int str = 0;
};

struct EpsArc {
  int tid;
  double g, a;
  int next;
};
struct WordArc {
  int tid, word;
  double g, a;
  int next;
};

class Determinizer {
 public:
  Determinizer(int num_states, int start, const int64_t *offsets, const int32_t *tid, const int32_t *word,
               const double *g, const double *a, const int32_t *next, const double *final_g,
               const double *final_a, double beam, double prune_beam, int64_t max_mem)
      : n_(num_states), start_(start), final_g_(final_g, final_g + num_states),
        final_a_(final_a, final_a + num_states), max_mem_(max_mem) {
    effective_beam_ = beam;
    raw_arcs_.resize(n_);
    for (int s = 0; s < n_; ++s)
      for (int64_t i = offsets[s]; i < offsets[s + 1]; ++i)
        raw_arcs_[s].push_back(WordArc{tid[i], word[i], g[i], a[i], next[i]});
    ok_ = TopologicalOrder();
    if (!ok_) return;
    if (prune_beam >= 0) Prune(prune_beam);
    rank_.assign(n_, 0);
    for (int r = 0; r < n_; ++r) rank_[order_[r]] = r;
    Backward(&backward_);
    best_ = start_ >= 0 ? backward_[start_] : kInf;
    cutoff_ = best_ + beam;
    eps_.resize(n_);
    word_arcs_.resize(n_);
    keep_.assign(n_, 0);
    for (int s = 0; s < n_; ++s) {
      for (const WordArc &arc : raw_arcs_[s]) {
        if (arc.g == kInf) continue;
        if (arc.word == 0)
          eps_[s].push_back(EpsArc{arc.tid, arc.g, arc.a, arc.next});
        else
          word_arcs_[s].push_back(arc);
      }
      keep_[s] = final_g_[s] != kInf || !word_arcs_[s].empty();
    }
    slot_.assign(n_, -1);
    done_.assign(n_, 0);
  }
  ~Determinizer() {
    while (!queue_.empty()) {
      delete queue_.top();
      queue_.pop();
    }
  }

  bool ok() const { return ok_; }

  void Run() {
    if (start_ < 0 || backward_[start_] == kInf) {
      empty_ = true;
      return;
    }
    std::vector<Elem> init{Elem{start_, 0.0, 0.0, 0}};
    std::vector<Elem> subset = Closure(init);
    NewState(subset, 0.0);
    while (!queue_.empty()) {
      if (mem_ > max_mem_) {
        effective_beam_ = queue_.top()->priority - best_;
        break;
      }
      Task *task = queue_.top();
      queue_.pop();
      ProcessTransition(task->state, task->word, task->elems);
      delete task;
    }
  }

  // results
  bool empty_ = false;
  std::vector<std::vector<OutArc>> out_arcs_;
  std::vector<OutFinal> out_final_;
  Strings strings_;
  double effective_beam_;

 private:
  bool TopologicalOrder() {
    std::vector<int> indegree(n_, 0);
    for (int s = 0; s < n_; ++s)
      for (const WordArc &arc : raw_arcs_[s]) {
        if (arc.next < 0 || arc.next >= n_) return false;
        indegree[arc.next]++;
      }
    for (int s = 0; s < n_; ++s)
      if (indegree[s] == 0) order_.push_back(s);
    for (size_t i = 0; i < order_.size(); ++i)
      for (const WordArc &arc : raw_arcs_[order_[i]])
        if (--indegree[arc.next] == 0) order_.push_back(arc.next);
    return static_cast<int>(order_.size()) == n_;
  }

  void Backward(std::vector<double> *backward) const {
    backward->assign(n_, kInf);
    for (int r = n_ - 1; r >= 0; --r) {
      int s = order_[r];
      double best = final_g_[s] != kInf ? final_g_[s] + final_a_[s] : kInf;
      for (const WordArc &arc : raw_arcs_[s]) {
        double c = arc.g + arc.a + (*backward)[arc.next];
        if (c < best) best = c;
      }
      (*backward)[s] = best;
    }
  }

  // prune_raw_lattice
  void Prune(double beam) {
    std::vector<double> forward(n_, kInf), backward;
    if (start_ >= 0) forward[start_] = 0.0;
    for (int s : order_) {
      double f = forward[s];
      if (f == kInf) continue;
      for (const WordArc &arc : raw_arcs_[s])
        if (f + arc.g + arc.a < forward[arc.next]) forward[arc.next] = f + arc.g + arc.a;
    }
    Backward(&backward);
    double cutoff = (start_ >= 0 ? backward[start_] : kInf) + beam;
    for (int s = 0; s < n_; ++s) {
      std::vector<WordArc> kept;
      for (const WordArc &arc : raw_arcs_[s])
        if (forward[s] + arc.g + arc.a + backward[arc.next] <= cutoff) kept.push_back(arc);
      raw_arcs_[s].swap(kept);
      if (final_g_[s] != kInf && !(forward[s] + final_g_[s] + final_a_[s] <= cutoff)) {
        final_g_[s] = kInf;
        final_a_[s] = kInf;
      }
    }
  }

  bool Better(double gx, double ax, int sx, double gy, double ay, int sy) const {
    double cx = gx + ax, cy = gy + ay;
    if (cx != cy) return cx < cy;
    if (gx != gy) return gx < gy;
    if (strings_.size(sx) != strings_.size(sy)) return strings_.size(sx) < strings_.size(sy);
    std::vector<int32_t> x, y;
    strings_.contents(sx, &x);
    strings_.contents(sy, &y);
    return x > y;
  }

  // The epsilon closure of a subset, its states in increasing order.
  std::vector<Elem> Closure(const std::vector<Elem> &subset) {
    std::vector<Elem> elems;
    std::vector<int> touched;
    typedef std::pair<int, int> RankState;
    std::priority_queue<RankState, std::vector<RankState>, std::greater<RankState>> heap;
    for (const Elem &e : subset) {
      slot_[e.state] = static_cast<int>(elems.size());
      elems.push_back(e);
      touched.push_back(e.state);
      if (!eps_[e.state].empty()) heap.push(RankState(rank_[e.state], e.state));
    }
    std::vector<int> expanded;
    while (!heap.empty()) {
      int s = heap.top().second;
      heap.pop();
      if (done_[s]) continue;
      done_[s] = 1;
      expanded.push_back(s);
      Elem cur = elems[slot_[s]];
      for (const EpsArc &arc : eps_[s]) {
        double g = cur.g + arc.g, a = cur.a + arc.a;
        int next = arc.next;
        int slot = slot_[next];
        if (slot >= 0) {
          const Elem &old = elems[slot];
          double c_new = g + a, c_old = old.g + old.a;
          if (c_new > c_old) continue;
          if (c_new == c_old) {
            int str = arc.tid ? strings_.append(cur.str, arc.tid) : cur.str;
            if (!Better(g, a, str, old.g, old.a, old.str)) continue;
            elems[slot] = Elem{next, g, a, str};
          } else {
            elems[slot] = Elem{next, g, a, arc.tid ? strings_.append(cur.str, arc.tid) : cur.str};
          }
        } else {
          slot_[next] = static_cast<int>(elems.size());
          touched.push_back(next);
          elems.push_back(Elem{next, g, a, arc.tid ? strings_.append(cur.str, arc.tid) : cur.str});
        }
        if (!eps_[next].empty()) heap.push(RankState(rank_[next], next));
      }
    }
    for (int s : touched) slot_[s] = -1;
    for (int s : expanded) done_[s] = 0;
    std::vector<Elem> kept;
    for (const Elem &e : elems)
      if (keep_[e.state]) kept.push_back(e);
    std::sort(kept.begin(), kept.end(), [](const Elem &x, const Elem &y) { return x.state < y.state; });
    return kept;
  }

  // Divide by the best weight and remove the common string prefix.
  void Normalize(const std::vector<Elem> &elems, std::vector<Elem> *out, double *g0_out, double *a0_out,
                 int *prefix_out) {
    double g0 = elems[0].g, a0 = elems[0].a;
    int prefix = elems[0].str;
    for (size_t i = 1; i < elems.size(); ++i) {
      const Elem &e = elems[i];
      if (e.g + e.a < g0 + a0 || (e.g + e.a == g0 + a0 && e.g < g0)) {
        g0 = e.g;
        a0 = e.a;
      }
      if (prefix) prefix = strings_.common(prefix, e.str);
    }
    int k = static_cast<int>(strings_.size(prefix));
    out->clear();
    for (const Elem &e : elems) out->push_back(Elem{e.state, e.g - g0, e.a - a0, strings_.suffix(e.str, k)});
    *g0_out = g0;
    *a0_out = a0;
    *prefix_out = prefix;
  }

  static Key KeyOf(const std::vector<Elem> &subset) {
    Key key;
    key.reserve(subset.size());
    for (const Elem &e : subset) key.push_back(std::make_pair(e.state, e.str));
    return key;
  }
  static Weights WeightsOf(const std::vector<Elem> &subset) {
    Weights w;
    w.reserve(subset.size());
    for (const Elem &e : subset) w.push_back(std::make_pair(e.g, e.a));
    return w;
  }
  static bool Match(const std::vector<Elem> &subset, const Weights &w) {
    for (size_t i = 0; i < subset.size(); ++i)
      if (std::fabs((subset[i].g + subset[i].a) - (w[i].first + w[i].second)) > kDelta) return false;
    return true;
  }
  int64_t SubsetBytes(const std::vector<Elem> &subset) const {
    int64_t bytes = 0;
    for (const Elem &e : subset) bytes += 16 + 4 * static_cast<int64_t>(strings_.size(e.str));
    return bytes;
  }

  int NewState(const std::vector<Elem> &subset, double forward) {
    int state = static_cast<int>(states_.size());
    states_.push_back(subset);
    forward_.push_back(forward);
    out_arcs_.emplace_back();
    out_final_.emplace_back();
    minimal_hash_[KeyOf(subset)].push_back(std::make_pair(WeightsOf(subset), state));
    mem_ += SubsetBytes(subset);
    ProcessFinal(state);
    ProcessTransitions(state);
    return state;
  }

  void ProcessFinal(int state) {
    bool found = false;
    double bg = 0, ba = 0;
    int bs = 0;
    for (const Elem &e : states_[state]) {
      if (final_g_[e.state] == kInf) continue;
      double g = e.g + final_g_[e.state], a = e.a + final_a_[e.state];
      if (!found || Better(g, a, e.str, bg, ba, bs)) {
        found = true;
        bg = g;
        ba = a;
        bs = e.str;
      }
    }
    if (found && bg + ba + forward_[state] <= cutoff_) {
      OutFinal &f = out_final_[state];
      f.is_final = true;
      f.g = bg;
      f.a = ba;
      f.str = bs;
    }
  }

  void ProcessTransitions(int state) {
    std::map<int, std::map<int, Elem>> by_word;
    for (const Elem &e : states_[state]) {
      for (const WordArc &arc : word_arcs_[e.state]) {
        double g = e.g + arc.g, a = e.a + arc.a;
        int str = arc.tid ? strings_.append(e.str, arc.tid) : e.str;
        std::map<int, Elem> &targets = by_word[arc.word];
        auto it = targets.find(arc.next);
        if (it == targets.end())
          targets.emplace(arc.next, Elem{arc.next, g, a, str});
        else if (Better(g, a, str, it->second.g, it->second.a, it->second.str))
          it->second = Elem{arc.next, g, a, str};
      }
    }
    double forward = forward_[state];
    for (auto &wt : by_word) {
      double best = kInf;
      for (auto &t : wt.second) {
        double c = t.second.g + t.second.a + backward_[t.first];
        if (c < best) best = c;
      }
      double priority = forward + best;
      if (priority > cutoff_) continue;
      Task *task = new Task{priority, ++counter_, state, wt.first, {}};
      for (auto &t : wt.second) task->elems.push_back(t.second);
      queue_.push(task);
    }
  }

  void ProcessTransition(int state, int word, const std::vector<Elem> &elems) {
    std::vector<Elem> subset;
    double g0, a0;
    int prefix;
    Normalize(elems, &subset, &g0, &a0, &prefix);
    double forward = forward_[state] + g0 + a0;
    Key key = KeyOf(subset);
    const Found *found = nullptr;
    auto it = initial_hash_.find(key);
    if (it != initial_hash_.end())
      for (auto &entry : it->second)
        if (Match(subset, entry.first)) {
          found = &entry.second;
          break;
        }
    Found made;
    if (found == nullptr) {
      std::vector<Elem> closure = Closure(subset), minimal;
      double g1, a1;
      int rest;
      Normalize(closure, &minimal, &g1, &a1, &rest);
      int target = -1;
      auto mt = minimal_hash_.find(KeyOf(minimal));
      if (mt != minimal_hash_.end())
        for (auto &entry : mt->second)
          if (Match(minimal, entry.first)) {
            target = entry.second;
            break;
          }
      if (target < 0) target = NewState(minimal, forward + g1 + a1);
      made = Found{target, g1, a1, rest};
      initial_hash_[key].push_back(std::make_pair(WeightsOf(subset), made));
      mem_ += SubsetBytes(subset);
      found = &made;
    }
    Found f = *found;
    int str = strings_.concat(prefix, f.rest);
    mem_ += 16 + 4 * static_cast<int64_t>(strings_.size(prefix) + strings_.size(f.rest));
    out_arcs_[state].push_back(OutArc{word, f.target, g0 + f.g1, a0 + f.a1, str});
  }

  int n_, start_;
  std::vector<std::vector<WordArc>> raw_arcs_;
  std::vector<double> final_g_, final_a_;
  int64_t max_mem_, mem_ = 0;
  bool ok_ = false;
  std::vector<int> order_, rank_;
  std::vector<double> backward_;
  double best_ = kInf, cutoff_ = kInf;
  std::vector<std::vector<EpsArc>> eps_;
  std::vector<std::vector<WordArc>> word_arcs_;
  std::vector<char> keep_;
  std::vector<int> slot_;
  std::vector<char> done_;
  std::vector<std::vector<Elem>> states_;
  std::vector<double> forward_;
  std::unordered_map<Key, std::vector<std::pair<Weights, int>>, KeyHash> minimal_hash_;
  std::unordered_map<Key, std::vector<std::pair<Weights, Found>>, KeyHash> initial_hash_;
  std::priority_queue<Task *, std::vector<Task *>, TaskAfter> queue_;
  long counter_ = 0;
};

}  // namespace

extern "C" {

int latdet_abi_version() { return kAbiVersion; }

// Returns a handle (NULL when the lattice has a cycle or an arc to a missing state). prune_beam < 0: no pruning
// of the raw lattice before determinisation.
void *latdet_run(int num_states, int start, const int64_t *offsets, const int32_t *tid, const int32_t *word,
                 const double *g, const double *a, const int32_t *next, const double *final_g,
                 const double *final_a, double beam, double prune_beam, int64_t max_mem) {
  Determinizer *det = new Determinizer(num_states, start, offsets, tid, word, g, a, next, final_g, final_a,
                                       beam, prune_beam, max_mem);
  if (!det->ok()) {
    delete det;
    return nullptr;
  }
  det->Run();
  return det;
}

// -1 for an empty lattice (no path)
int latdet_num_states(void *h) {
  Determinizer *det = static_cast<Determinizer *>(h);
  return det->empty_ ? -1 : static_cast<int>(det->out_arcs_.size());
}

double latdet_effective_beam(void *h) { return static_cast<Determinizer *>(h)->effective_beam_; }

// Sizes of the flat output: arcs, and transition-ids over all arc and final strings.
void latdet_sizes(void *h, int64_t *num_arcs, int64_t *num_tids) {
  Determinizer *det = static_cast<Determinizer *>(h);
  int64_t arcs = 0, tids = 0;
  for (auto &state_arcs : det->out_arcs_)
    for (auto &arc : state_arcs) {
      ++arcs;
      tids += det->strings_.size(arc.str);
    }
  for (auto &f : det->out_final_)
    if (f.is_final) tids += det->strings_.size(f.str);
  *num_arcs = arcs;
  *num_tids = tids;
}

// Arcs state by state, in the order made; strings as (offset, length) into tids; a final state's string after
// its arcs' strings. Non-final states: final costs +inf, length 0.
void latdet_get(void *h, int32_t *arc_src, int32_t *arc_word, int32_t *arc_dst, double *arc_g, double *arc_a,
                int64_t *arc_str_len, double *final_g, double *final_a, int64_t *final_str_len, int32_t *tids) {
  Determinizer *det = static_cast<Determinizer *>(h);
  int64_t i = 0, t = 0;
  std::vector<int32_t> str;
  for (size_t s = 0; s < det->out_arcs_.size(); ++s) {
    for (auto &arc : det->out_arcs_[s]) {
      det->strings_.contents(arc.str, &str);
      arc_src[i] = static_cast<int32_t>(s);
      arc_word[i] = arc.word;
      arc_dst[i] = arc.target;
      arc_g[i] = arc.g;
      arc_a[i] = arc.a;
      arc_str_len[i] = static_cast<int64_t>(str.size());
      if (!str.empty()) std::memcpy(tids + t, str.data(), str.size() * sizeof(int32_t));
      t += str.size();
      ++i;
    }
  }
  for (size_t s = 0; s < det->out_final_.size(); ++s) {
    const OutFinal &f = det->out_final_[s];
    final_g[s] = f.is_final ? f.g : kInf;
    final_a[s] = f.is_final ? f.a : kInf;
    final_str_len[s] = f.is_final ? static_cast<int64_t>(det->strings_.size(f.str)) : 0;
    if (f.is_final && final_str_len[s]) {
      det->strings_.contents(f.str, &str);
      std::memcpy(tids + t, str.data(), final_str_len[s] * sizeof(int32_t));
      t += final_str_len[s];
    }
  }
}

void latdet_free(void *h) { delete static_cast<Determinizer *>(h); }

}  // extern "C"
