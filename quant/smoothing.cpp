#include "quant/smoothing.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.hpp"
#include "quant/channel_views.hpp"
#include "quant/config_keys.hpp"

namespace chipref {

namespace {

class SiteFinder {
 public:
  explicit SiteFinder(Graph& g) : g_(g) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (const std::string& in : g.nodes[i].inputs) readers_[in].push_back(i), ++count_[in];
    for (const ValueInfo& o : g.outputs) count_[o.name] += 2;  // a graph output is never rescaled
  }

  struct Site {
    SmoothedTensor result;
    ChannelView producer;
    std::vector<ChannelView> readers;
  };

  // The producer's output channels, then the readers of that tensor; false if either is not of the kinds
  // smoothing handles, or a weight, bias, γ or β is read by another node too (that node would change).
  bool find(const Node& producer, Site& site) {
    site = Site{};
    std::string out;
    if (!channel_last_producer_view(g_, producer, site.producer, out)) return false;  // not a LN, MatMul, Gemm
    for (size_t o = 1; o < producer.outputs.size(); ++o)  // LayerNormalization's optional mean and 1/σ
      if (!producer.outputs[o].empty() && count_.count(producer.outputs[o])) return false;
    for (size_t i = 1; i < producer.inputs.size(); ++i)
      if (!producer.inputs[i].empty() && !exclusive(producer.inputs[i])) return false;
    if (g_.initializers.count(producer.inputs.at(0))) return false;
    if (producer.op_type == "LayerNormalization") {  // over the last axis only: γ and β per channel
      const Shape* shape = g_.known_shape(producer.inputs.at(0));
      const int64_t axis = producer.get_int("axis", -1);
      if (axis != -1 && (!shape || axis != static_cast<int64_t>(shape->size()) - 1)) return false;
      if (shape && (shape->empty() || shape->back() != site.producer.channels)) return false;
    }
    if (out != producer.outputs[0]) {  // a MatMul and its bias Add
      const Node& add = g_.nodes[readers_.at(producer.outputs[0]).front()];
      for (const std::string& in : add.inputs)
        if (in != producer.outputs[0] && !exclusive(in)) return false;
      site.result.renamed.push_back(producer.outputs[0]);
    }
    site.result.producer = producer.name;
    site.result.activation = out;
    return reached(out, site) && !site.readers.empty();
  }

 private:
  bool exclusive(const std::string& t) const {
    const auto c = count_.find(t);
    return c != count_.end() && c->second == 1;
  }

  // Every reader of `t`, through Transposes that keep the last axis last and Reshapes that keep the last
  // dimension (element (…, j) stays in channel j), is a MatMul / Gemm reading `t` as its first input.
  bool reached(const std::string& t, Site& site) {
    const auto c = count_.find(t);
    if (c == count_.end() || c->second != static_cast<int>(readers_[t].size())) return false;  // a graph output
    site.result.renamed.push_back(t);
    for (const size_t i : readers_[t]) {
      const Node& n = g_.nodes[i];
      if (!n.domain.empty() || n.inputs.at(0) != t) return false;
      if (n.op_type == "Transpose") {
        const std::vector<int64_t> perm = n.get_ints("perm", std::vector<int64_t>{});
        if (perm.empty() || perm.back() != static_cast<int64_t>(perm.size()) - 1) return false;
        if (!reached(n.outputs.at(0), site)) return false;
      } else if (n.op_type == "Reshape") {
        const Shape *in = g_.known_shape(t), *out = g_.known_shape(n.outputs.at(0));
        if (!in || !out || in->empty() || out->empty() || in->back() != out->back()) return false;
        if (!reached(n.outputs[0], site)) return false;
      } else if (n.op_type == "MatMul" || n.op_type == "Gemm") {
        ChannelView v;
        if (n.inputs.size() < 2 || n.inputs[1] == t || !input_channel_view(g_, n, site.producer.channels, v) ||
            !exclusive(n.inputs[1]))
          return false;
        site.readers.push_back(v);
        site.result.readers.push_back(n.name);
      } else {
        return false;
      }
    }
    return true;
  }

  Graph& g_;
  std::map<std::string, std::vector<size_t>> readers_;
  std::map<std::string, int> count_;
};

}  // namespace

std::vector<SmoothedTensor> smooth_activations(Graph& g,
                                               const std::function<std::optional<double>(const std::string&)>& alpha_of,
                                               const ChannelRanges& ranges) {
  SiteFinder finder(g);
  std::vector<SiteFinder::Site> sites;
  for (const Node& n : g.nodes) {
    SiteFinder::Site site;
    if (!finder.find(n, site)) continue;
    std::optional<double> alpha;
    bool all_ask = true;
    for (const std::string& reader : site.result.readers) {
      const std::optional<double> a = alpha_of(reader);
      if (!a) {
        all_ask = false;
      } else if (alpha && *alpha != *a) {
        throw InputError(g.source + ": SmoothQuant: '" + site.result.readers.front() + "' and '" + reader +
                         "' read the same tensor '" + site.result.activation + "' but ask for α " +
                         number_text(*alpha) + " and " + number_text(*a) +
                         "; its channels have one factor each, so the readers must agree");
      } else {
        alpha = a;
      }
    }
    if (!all_ask) continue;
    site.result.alpha = *alpha;
    sites.push_back(std::move(site));
  }
  if (sites.empty()) return {};
  std::vector<std::string> tensors;
  std::vector<int64_t> channels;
  for (const auto& s : sites) tensors.push_back(s.result.activation), channels.push_back(s.producer.channels);
  const std::vector<std::vector<double>> measured = ranges(tensors, channels);
  // Every factor from the unchanged graph, then applied: a linear layer that reads one smoothed tensor and
  // produces another gets the same factors whichever is applied first.
  std::vector<SmoothedTensor> done;
  for (size_t i = 0; i < sites.size(); ++i) {
    SiteFinder::Site& site = sites[i];
    const double alpha = site.result.alpha;
    for (int64_t j = 0; j < site.producer.channels; ++j) {
      double w = 0;
      for (const ChannelView& r : site.readers) w = std::max(w, r.range(j));
      const double a = measured.at(i).at(static_cast<size_t>(j));
      // A channel that is zero on every calibration input, or in every weight, has nothing to balance.
      site.result.factors.push_back(a > 0 && w > 0 ? std::pow(a, alpha) / std::pow(w, 1 - alpha) : 1.0);
    }
    done.push_back(site.result);
  }
  for (const SmoothedTensor& s : done) apply_rescaling(g, s.rescaling());
  return done;
}

std::vector<ConfigKey> smoothing_config_keys() {
  using C = LayerQuantConfig;
  return {boolean_key("activations", "smoothquant", &C::smoothquant,
                      "SmoothQuant (Xiao et al. 2023) of this MatMul or Gemm's input: channel j of the tensor divided "
                      "by s_j = max\\|x_j\\|^α / max\\|w_j\\|^(1−α), folded into the LayerNorm or linear layer that "
                      "produces it, the readers' weight rows multiplied by it; every reader of the tensor must ask "
                      "(docs/numerics.md §16)"),
          number_key("activations", "smoothquant_alpha", 0.0, 1.0, &C::smoothquant_alpha,
                     "SmoothQuant: the migration strength α (0: nothing moves to the weights, 1: all of it)")};
}

}  // namespace chipref
