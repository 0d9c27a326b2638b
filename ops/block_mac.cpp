// block_mac: a fully connected layer or convolution in block formats (MX, BFP; docs/numerics.md §15).
// Inputs: codes x (a uniform format: [rows.., K] or NCHW), weight element codes ([M, K] or [M, KH, KW, C/G]),
// weight scale codes ([M, blocks] or [M, KH, KW, blocks]), [bias: float32 bit patterns [M]] → codes of the
// output value's uniform format. Attributes: kind (linear | conv), activation_format, weight_format,
// block_size, accumulation (exact | fp32), activation_rounding (a rounding mode or stochastic), seed,
// shared_exponent (floor | ceil; floor when absent),
// input_scale_bits and output_scale_bits (the float32 scales s_x, s_y as bit patterns), clamp_lo, clamp_hi;
// a convolution's strides, pads, dilations, group.
#include "kernels/block_mac.hpp"
#include "ops/common.hpp"
#include "ops/mac.hpp"

namespace chipref::ops {

ExactValue float32_attribute(const Node& op, const std::string& attr) {
  const int64_t bits = op.get_int(attr);
  if (bits < 0 || bits > UINT32_MAX)
    throw InputError(op.describe() + ": attribute '" + attr + "' must be a float32 bit pattern (0..2^32-1)");
  const ExactValue v = decode(kFp32, static_cast<uint32_t>(bits));
  if (v.kind != ExactValue::Kind::finite || v.negative || v.significand == 0)
    throw InputError(op.describe() + ": attribute '" + attr + "' must be a positive finite float32");
  return v;
}

namespace {
std::vector<uint32_t> unsigned_codes(const Node& op, const Tensor& t, const char* what) {
  std::vector<uint32_t> codes(t.ints.size());
  for (size_t i = 0; i < codes.size(); ++i) {
    if (t.ints[i] < 0 || t.ints[i] > UINT32_MAX)
      throw InputError(op.describe() + ": " + what + " " + std::to_string(t.ints[i]) + " is not a code");
    codes[i] = static_cast<uint32_t>(t.ints[i]);
  }
  return codes;
}

kernels::BlockMacParams read_params(const IntGraph& g, const Node& op) {
  kernels::BlockMacParams p;
  const int block_size = int_attribute(op, "block_size");
  naming(op, [&] {
    p.activation_format = parse_block_format(op.get_string("activation_format"), block_size);
    p.weight_format = parse_block_format(op.get_string("weight_format"), block_size);
    p.accumulation = parse_block_accumulation(op.get_string("accumulation"));
    const std::string rounding = op.get_string("activation_rounding");
    p.activation_rounding.rounding = rounding == "stochastic" ? Rounding{RoundingMode::half_even, true}
                                                              : Rounding{parse_rounding_mode(rounding), false};
  });
  p.activation_rounding.seed = static_cast<uint64_t>(op.get_int("seed", 0));
  naming(op, [&] {
    p.activation_rounding.shared_exponent = parse_shared_exponent(op.get_string("shared_exponent", "floor"));
  });
  p.input_scale = float32_attribute(op, "input_scale_bits");
  p.output_scale = float32_attribute(op, "output_scale_bits");
  p.input_zero_point = input_zero_point(g, op, 0);
  const IntFormat& in = value(g, op.inputs.at(0), op).quant.format;
  p.input_lo = in.min(), p.input_hi = in.max();
  const IntValue& out = value(g, op.outputs.at(0), op);
  p.output_zero_point = narrow_to_int32(op, "output zero point", out.quant.zero_point);
  p.output_lo = std::max(out.quant.format.min(), op.get_int("clamp_lo", out.quant.format.min()));
  p.output_hi = std::min(out.quant.format.max(), op.get_int("clamp_hi", out.quant.format.max()));
  if (p.output_lo > p.output_hi) throw InputError(op.describe() + ": clamp_lo is above clamp_hi");
  return p;
}

struct Prepared {
  kernels::BlockMacParams params;
  kernels::BlockWeights weights;
  kernels::PreparedBlockWeights prepared;
  bool conv = false;
  Shape weight_shape;  // conv: [M, KH, KW, C/G]
};

PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  auto s = std::make_shared<Prepared>();
  s->params = read_params(g, op);
  const std::string kind = op.get_string("kind");
  if (kind != "linear" && kind != "conv")
    throw InputError(op.describe() + ": attribute 'kind' is '" + kind + "'; expected linear or conv");
  s->conv = kind == "conv";
  const Tensor& codes = constant(g, op, 1);
  const Tensor& scales = constant(g, op, 2);
  const int64_t rank = s->conv ? 4 : 2;
  if (codes.rank() != rank)
    throw InputError(op.describe() + ": weight codes must be " + (s->conv ? "[M, KH, KW, C/G]" : "[M, K]") + ", got " +
                     shape_to_string(codes.shape));
  kernels::BlockWeights& w = s->weights;
  w.out_channels = codes.shape[0];
  w.taps = s->conv ? codes.shape[1] * codes.shape[2] : 1;
  w.group_channels = codes.shape.back();
  w.groups = s->conv ? op.get_int("group", 1) : 1;
  w.codes = unsigned_codes(op, codes, "weight code");
  w.scales = unsigned_codes(op, scales, "weight scale");
  if (op.inputs.size() > 3) {
    for (const uint32_t bits : unsigned_codes(op, constant(g, op, 3), "bias bit pattern")) {
      const ExactValue b = decode(kFp32, bits);
      if (b.kind != ExactValue::Kind::finite) throw InputError(op.describe() + ": a bias is not a finite float32");
      w.bias.push_back(b);
    }
  }
  kernels::check_block_weights(s->params, w, op.describe());
  s->prepared = kernels::prepare_block_weights(s->params, w);
  s->weight_shape = codes.shape;
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  p.run = [s, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    const kernels::BlockWeights& w = s->weights;
    if (s->conv) {
      const kernels::ConvGeometry geo = geometry(op, x.shape, w.out_channels, s->weight_shape[1], s->weight_shape[2]);
      if (geo.in_channels / geo.groups != w.group_channels)
        throw InputError(op.describe() + ": input " + shape_to_string(x.shape) + " has " +
                         std::to_string(geo.in_channels / geo.groups) + " channels per group, the weights " +
                         std::to_string(w.group_channels));
      shape_output(y, {geo.batch, geo.out_channels, geo.out_h(), geo.out_w()});
      naming(op, [&] { kernels::block_conv_mac(geo, x.data.data(), s->params, w, s->prepared, y.data.data()); });
      return;
    }
    if (x.shape.empty() || x.shape.back() != w.group_channels)
      throw InputError(op.describe() + ": input " + shape_to_string(x.shape) + " does not end in " +
                       std::to_string(w.group_channels));
    Shape shape = x.shape;
    shape.back() = w.out_channels;
    shape_output(y, shape);
    const int64_t rows = static_cast<int64_t>(x.data.size()) / w.group_channels;
    naming(op, [&] { kernels::block_linear_mac(rows, x.data.data(), s->params, w, s->prepared, y.data.data()); });
  };
  return p;
}

BlockMacFacts facts(const IntGraph& g, const Node& op) {
  const kernels::BlockMacParams p = read_params(g, op);
  const Tensor& codes = constant(g, op, 1);
  BlockMacFacts f;
  f.activation_bits = p.activation_format.element_bits(), f.weight_bits = p.weight_format.element_bits();
  f.block_size = p.weight_format.block_size, f.scale_bits = p.weight_format.scale_bits;
  f.weight_elements = codes.numel(), f.weight_blocks = constant(g, op, 2).numel();
  f.reduction = codes.shape.empty() || codes.shape[0] == 0 ? 0 : codes.numel() / codes.shape[0];
  return f;
}
}  // namespace

kernels::BlockMacParams block_mac_params(const IntGraph& g, const Node& op) { return read_params(g, op); }

std::pair<Tensor, Tensor> block_mac_float_weights(const IntGraph& g, const Node& op) {
  const kernels::BlockMacParams p = read_params(g, op);
  const Tensor& codes = constant(g, op, 1);
  const std::vector<uint32_t> scales = unsigned_codes(op, constant(g, op, 2), "weight scale");
  const int64_t M = codes.shape.at(0), cg = codes.shape.back(), taps = codes.numel() / (M * cg);
  const int64_t bs = p.weight_format.block_size, blocks = (cg + bs - 1) / bs;
  const bool conv = codes.rank() == 4;
  Tensor w = Tensor::zeros(DType::float32, conv ? Shape{M, cg, codes.shape[1], codes.shape[2]} : Shape{M, cg});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t c = 0; c < cg; ++c) {
        const uint32_t scale = scales.at(static_cast<size_t>((m * taps + t) * blocks + c / bs));
        const auto code = static_cast<uint32_t>(codes.ints[static_cast<size_t>((m * taps + t) * cg + c)]);
        w.floats[static_cast<size_t>(conv ? (m * cg + c) * taps + t : m * cg + c)] =
            static_cast<float>(to_double(block_element_value(p.weight_format, scale, code)));
      }
  Tensor b;
  if (op.inputs.size() > 3) {
    const Tensor& bits = constant(g, op, 3);
    b = Tensor::zeros(DType::float32, {bits.numel()});
    for (int64_t i = 0; i < bits.numel(); ++i)
      b.floats[static_cast<size_t>(i)] =
          static_cast<float>(to_double(decode(kFp32, static_cast<uint32_t>(bits.ints[i]))));
  }
  return {std::move(w), std::move(b)};
}

void fake_convert_vectors(const BlockFormat& f, const BlockRounding& rounding, Tensor& x, int64_t channels,
                          int64_t plane) {
  // Vectors of `channels` values `plane` apart: a conv's group channels at each (n, g, y, x) (plane = H · W),
  // a row of K (plane 1), or a matmul's B column (plane = N).
  const int64_t vectors = x.numel() / channels, stride = plane;
  const int64_t bs = f.block_size;
  std::vector<uint32_t> bits(static_cast<size_t>(bs)), codes(static_cast<size_t>(bs));
  for (int64_t v = 0; v < vectors; ++v) {
    const int64_t base = (v / plane) * channels * plane + v % plane;
    for (int64_t first = 0; first < channels; first += bs) {
      const int64_t count = std::min(bs, channels - first);
      for (int64_t i = 0; i < count; ++i)
        bits[static_cast<size_t>(i)] = float32_bits(x.floats[static_cast<size_t>(base + (first + i) * stride)]);
      uint32_t scale = 0;
      quantize_block(f, bits.data(), count, rounding, static_cast<uint64_t>(v * channels + first), scale, codes.data());
      for (int64_t i = 0; i < count; ++i)
        x.floats[static_cast<size_t>(base + (first + i) * stride)] =
            static_cast<float>(to_double(block_element_value(f, scale, codes[static_cast<size_t>(i)])));
    }
  }
}

void block_mac_fake_convert(const IntGraph& g, const Node& op, Tensor& x) {
  const kernels::BlockMacParams p = read_params(g, op);
  const bool conv = op.get_string("kind") == "conv";
  if (!x.is_float() || x.shape.empty() || (conv && x.rank() != 4))
    throw InputError(op.describe() + ": the fake-quant input " + shape_to_string(x.shape) + " is not its layer's");
  const int64_t groups = conv ? op.get_int("group", 1) : 1;
  fake_convert_vectors(p.activation_format, p.activation_rounding, x, conv ? x.shape[1] / groups : x.shape.back(),
                       conv ? x.shape[2] * x.shape[3] : 1);
}

void block_fake_convert(const IntGraph& g, const Node& op, int operand, Tensor& x) {
  if (op_def(op).block_facts(g, op).constant_weights) return block_mac_fake_convert(g, op, x);
  block_matmul_fake_convert(g, op, operand, x);
}

std::pair<Tensor, Tensor> block_mac_input_codes(const IntGraph& g, const Node& op, const CodeTensor& x) {
  const kernels::BlockMacParams p = read_params(g, op);
  const Tensor& w = constant(g, op, 1);
  kernels::BlockCodes c;
  Shape codes_shape, scales_shape;
  const int64_t bs = p.activation_format.block_size;
  if (op.get_string("kind") == "conv") {
    const kernels::ConvGeometry geo = geometry(op, x.shape, w.shape.at(0), w.shape.at(1), w.shape.at(2));
    const int64_t cg = geo.in_channels / geo.groups;
    c = kernels::block_conv_input(geo, x.data.data(), p);
    codes_shape = {geo.batch, geo.groups, geo.in_h, geo.in_w, cg};
    scales_shape = {geo.batch, geo.groups, geo.in_h, geo.in_w, (cg + bs - 1) / bs};
  } else {
    const int64_t k = w.shape.back(), rows = static_cast<int64_t>(x.data.size()) / std::max<int64_t>(k, 1);
    c = kernels::block_linear_input(rows, k, x.data.data(), p);
    codes_shape = {rows, k}, scales_shape = {rows, (k + bs - 1) / bs};
  }
  Tensor codes = Tensor::zeros(DType::int64, codes_shape), scales = Tensor::zeros(DType::int64, scales_shape);
  std::copy(c.codes.begin(), c.codes.end(), codes.ints.begin());
  std::copy(c.scales.begin(), c.scales.end(), scales.ints.begin());
  return {std::move(codes), std::move(scales)};
}

const OpDef& block_mac_op_def() {
  return define_op([](OpDef& d) {
    d.name = "block_mac";
    d.least_inputs = 3, d.most_inputs = 4;
    d.systemc_module = "BlockMac";
    d.prepare = prepare;
    d.block_facts = facts;
    d.block_operands = [](const IntGraph& g, const Node& op, const std::vector<const CodeTensor*>& inputs) {
      if (!inputs.at(0)) throw InputError(op.describe() + ": no codes of its input '" + op.inputs.at(0) + "'");
      auto [codes, scales] = block_mac_input_codes(g, op, *inputs.at(0));
      const kernels::BlockMacParams p = read_params(g, op);
      return std::vector<BlockOperandCodes>{BlockOperandCodes{
          "input", p.activation_format.name, p.activation_format.element_bits(), std::move(codes), std::move(scales)}};
    };
  });
}

}  // namespace chipref::ops
