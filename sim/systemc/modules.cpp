#include "sim/systemc/modules.hpp"

#include <ostream>

#include "kernels/sparse.hpp"
#include "ops/mac.hpp"
#include "ops/sparse_decode.hpp"
#include "sim/tile_streams.hpp"

namespace chipref {

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

namespace systemc {
int storage_bits(DType t) {
  switch (t) {
    case DType::int8:
    case DType::uint8:
      return 8;
    case DType::int16:
    case DType::uint16:
      return 16;
    case DType::int32:
      return 32;
    default:
      return 64;
  }
}
}  // namespace systemc

MacTileSchedule mac_tile_schedule(const HardwareConfig& hw, int64_t groups, int64_t positions, int64_t reduction,
                                  int64_t channels) {
  MacTileSchedule s;
  const int64_t rows = hw.mac_rows, cols = hw.mac_cols;
  s.macs = groups * positions * reduction * channels;
  if (hw.dataflow == Dataflow::weight_stationary) {
    s.tiles = groups * ceil_div(reduction, rows) * ceil_div(channels, cols);
    s.weight_elements = groups * reduction * channels;                                  // each tile loaded once
    s.activation_elements = groups * ceil_div(channels, cols) * positions * reduction;  // re-streamed per column tile
    s.pe_slots = s.tiles * positions * rows * cols;
  } else {
    s.tiles = groups * ceil_div(positions, rows) * ceil_div(channels, cols);
    s.weight_elements = groups * ceil_div(positions, rows) * reduction * channels;  // re-streamed per row tile
    s.activation_elements = groups * ceil_div(channels, cols) * positions * reduction;
    s.pe_slots = s.tiles * reduction * rows * cols;
  }
  return s;
}

namespace systemc {

std::ostream& operator<<(std::ostream& os, const Packet& p) {
  return os << "Packet" << (p.tensor ? shape_to_string(p.tensor->shape) : std::string("[]"));
}

namespace {
void count(PortCount& port, int64_t elements, int bits) {
  port.transactions += 1;
  port.elements += elements;
  port.bits += elements * bits;
}
}  // namespace

IntOpModule::IntOpModule(const sc_core::sc_module_name& name, const IntGraph& graph, const Node& op, std::string kind,
                         NetlistContext& context)
    : sc_core::sc_module(name), in("in"), out("out"), graph_(graph), op_(op), context_(context) {
  stats_.name = op.name;
  stats_.kind = std::move(kind);
  stats_.op_type = op.op_type;
  SC_THREAD(process);
}

void IntOpModule::prepare() { prepared_ = prepare_int_op(graph_, op_); }

int IntOpModule::bits_of(const std::string& value) const {
  const auto it = graph_.values.find(value);
  return it != graph_.values.end() ? it->second.quant.format.bits() : 32;
}

void IntOpModule::account(const std::vector<const CodeTensor*>& inputs, const CodeTensor& output) {
  for (size_t i = 0; i < inputs.size(); ++i)
    count(stats_.in, static_cast<int64_t>(inputs[i]->data.size()), bits_of(prepared_.inputs[i]));
  count(stats_.out, static_cast<int64_t>(output.data.size()), bits_of(op_.outputs.at(0)));
}

std::shared_ptr<CodeTensor> IntOpModule::output_buffer() {
  for (auto& b : buffers_)
    if (b.use_count() == 1) return b;  // no FIFO or reader holds it any more
  buffers_.push_back(std::make_shared<CodeTensor>());
  return buffers_.back();
}

void IntOpModule::process() {
  try {
    start();
    if (static_cast<size_t>(in.size()) != prepared_.inputs.size())
      throw InputError(op_.describe() + ": the netlist bound " + std::to_string(in.size()) + " inputs; the op reads " +
                       std::to_string(prepared_.inputs.size()));
    // What a process holds while it waits lives in members: SystemC never unwinds a waiting process's
    // stack, so locals owning memory there would leak when the netlist is destroyed.
    packets_.assign(prepared_.inputs.size(), Packet{});
    inputs_.assign(prepared_.inputs.size(), nullptr);
    for (;;) {
      for (size_t i = 0; i < packets_.size(); ++i) {
        packets_[i] = in[static_cast<int>(i)]->read();
        inputs_[i] = packets_[i].tensor.get();
      }
      current_ = output_buffer();
      OverflowCounter overflow;
      compute(inputs_, *current_, overflow);
      stats_.overflow_events += overflow.events;
      account(inputs_, *current_);
      if (context_.trace) {
        if (ops::is_mac(op_)) context_.trace->overflows[op_.name].events += overflow.events;
        context_.trace->values[op_.outputs.at(0)] = *current_;
        if (context_.trace->with_tile_streams) traced(inputs_, *current_);
      }
      for (auto& p : packets_) p.tensor.reset();
      for (int i = 0; i < out.size(); ++i) out[i]->write(Packet{current_});
      current_.reset();
    }
  } catch (const InputError&) {
    if (!context_.error) context_.error = std::current_exception();
  } catch (const std::exception& e) {  // not an input's fault: say which module it was
    if (!context_.error)
      context_.error =
          std::make_exception_ptr(std::logic_error(op_.describe() + " in the SystemC netlist: " + e.what()));
  }
}

MacArray::MacArray(const sc_core::sc_module_name& name, const IntGraph& graph, const Node& op, const HardwareConfig& hw,
                   bool sparse_fed, NetlistContext& context)
    : IntOpModule(name, graph, op, "MacArray", context), weights_in("weights_in"), hw_(hw), sparse_fed_(sparse_fed) {
  check_geometry(op, hw);
  if (second_is_activation()) {
    weight_bits_ = bits_of(op.inputs.at(1));
  } else if (const auto it = graph.constants.find(op.inputs.at(1)); it != graph.constants.end()) {
    weight_bits_ = storage_bits(it->second.dtype);
  } else if (const Node* decoder = sparse_decoder_of(graph, op.inputs[1])) {  // the kept values' type
    weight_bits_ = storage_bits(graph.constants.at(decoder->inputs.at(0)).dtype);
  }
  // Weights move at their own width (4-bit weights kept in int8 tensors are 4 bits on the wire).
  if (const auto w = graph.weights.find(op.inputs.at(1)); w != graph.weights.end() && !second_is_activation())
    weight_bits_ = w->second.format.bits();
}

bool MacArray::second_is_activation() const { return ops::op_def(op_).mac == ops::MacOperand::activation; }

void MacArray::check_geometry(const Node& op, const HardwareConfig& hw) {
  if (hw.mac_rows < 1 || hw.mac_cols < 1)
    throw InputError(op.describe() + ": a " + std::to_string(hw.mac_rows) + " x " + std::to_string(hw.mac_cols) +
                     " MAC array cannot map this layer; rows and cols must be at least 1 (hardware.mac_array)");
}

void MacArray::prepare() {
  if (!sparse_fed_) IntOpModule::prepare();
}

void MacArray::start() {
  if (!sparse_fed_) return;
  const Packet w = weights_in->read();  // the SparseDecoder's dense weights, once
  decoded_ = Tensor::of_ints(DType::int32, w.tensor->shape,
                             std::vector<int64_t>(w.tensor->data.begin(), w.tensor->data.end()));
  MacWeightSource source;
  source.dense = &decoded_;
  prepared_ = prepare_int_op(graph_, op_, source);
}

void MacArray::account(const std::vector<const CodeTensor*>& inputs, const CodeTensor& output) {
  IntOpModule::account(inputs, output);
  const Shape& second = second_is_activation() ? inputs[1]->shape
                                               : (sparse_fed_ ? decoded_ : graph_.constants.at(op_.inputs.at(1))).shape;
  const ops::MacMatrixView p = ops::mac_matrix_view(op_, inputs[0]->shape, second, output.shape);
  const MacTileSchedule s = mac_tile_schedule(hw_, p.groups, p.positions, p.reduction, p.channels);
  stats_.weights.transactions += s.tiles;
  stats_.weights.elements += s.weight_elements;
  stats_.weights.bits += s.weight_elements * weight_bits_;
  stats_.activation_elements += s.activation_elements;
  stats_.macs += s.macs;
  stats_.pe_slots += s.pe_slots;
}

void MacArray::traced(const std::vector<const CodeTensor*>& inputs, const CodeTensor& output) {
  const int32_t zx = static_cast<int32_t>(graph_.values.at(op_.inputs.at(0)).quant.zero_point);
  if (second_is_activation()) {
    const int32_t zw = static_cast<int32_t>(graph_.values.at(op_.inputs.at(1)).quant.zero_point);
    context_.trace->tile_streams[op_.name] = mac_tile_streams(op_, hw_, *inputs[0], zx, *inputs[1], zw, output);
    return;
  }
  if (weight_codes_.data.empty()) {  // what the array multiplies: each code minus its channel's zero point
    const Tensor& w = sparse_fed_ ? decoded_ : graph_.constants.at(op_.inputs.at(1));
    weight_codes_.shape = w.shape;
    weight_codes_.data = ops::offset_weights(graph_, op_, w);
  }
  context_.trace->tile_streams[op_.name] = mac_tile_streams(op_, hw_, *inputs[0], zx, weight_codes_, 0, output);
}

SparseDecoder::SparseDecoder(const sc_core::sc_module_name& name, const IntGraph& graph, const Node& op,
                             NetlistContext& context)
    : sc_core::sc_module(name), out("out"), graph_(graph), op_(op), context_(context) {
  stats_.name = op.name;
  stats_.kind = "SparseDecoder";
  stats_.op_type = op.op_type;
  SC_THREAD(process);
}

void SparseDecoder::process() {
  try {
    const kernels::NmWeights w = nm_weights_of(graph_, op_);
    auto dense = std::make_shared<CodeTensor>();
    dense->shape = op_.get_ints("shape");
    dense->data = kernels::decode_nm(w, op_.describe());
    const int value_bits = storage_bits(graph_.constants.at(op_.inputs.at(0)).dtype);
    count(stats_.in, static_cast<int64_t>(w.values.size()), value_bits);
    count(stats_.in, static_cast<int64_t>(w.index_words.size()), 32);
    count(stats_.out, static_cast<int64_t>(dense->data.size()), value_bits);
    for (int i = 0; i < out.size(); ++i) out[i]->write(Packet{dense});
  } catch (...) {
    if (!context_.error) context_.error = std::current_exception();
  }
}

Source::Source(const sc_core::sc_module_name& name) : sc_core::sc_module(name), out("out") { SC_THREAD(process); }

void Source::queue(std::vector<std::shared_ptr<const CodeTensor>> chunks) {
  pending_ = std::move(chunks);
  start_.notify(sc_core::SC_ZERO_TIME);
}

void Source::process() {
  for (;;) {
    // At the first sc_start the process starts after run() queued (a notification before elaboration
    // is not seen); later runs wake it through start_.
    if (pending_.empty()) sc_core::wait(start_);
    for (auto& chunk : pending_)
      for (int i = 0; i < out.size(); ++i) out[i]->write(Packet{chunk});
    pending_.clear();
  }
}

Sink::Sink(const sc_core::sc_module_name& name) : sc_core::sc_module(name), in("in") { SC_THREAD(process); }

void Sink::process() {
  for (;;) received.push_back(in[0]->read().tensor);
}

}  // namespace systemc
}  // namespace chipref
