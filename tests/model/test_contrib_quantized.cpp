// ONNX Runtime's com.microsoft quantized operators (model/contrib_quantized.hpp), imported and run by the
// float executor, against each schema's own formula evaluated here on the codes. The scales are powers of
// two, so every formula is exact in float32 and in double alike: the expected codes, ties rounded half
// to even and saturated, do not depend on the order of float operations.

#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <random>

#include "model/executor.hpp"
#include "model/onnx_import.hpp"

using namespace chipref;

namespace {

constexpr int kU8 = onnx::TensorProto::UINT8, kI8 = onnx::TensorProto::INT8, kF32 = onnx::TensorProto::FLOAT;

// A one-node model: its inputs, initializers and the node, built through these calls.
class ModelBuilder {
 public:
  ModelBuilder() {
    model_.set_ir_version(8);
    model_.add_opset_import()->set_version(13);
    auto* ms = model_.add_opset_import();
    ms->set_domain("com.microsoft"), ms->set_version(1);
    model_.mutable_graph()->set_name("contrib");
  }
  void input(const std::string& name, int type, const std::vector<int64_t>& dims) {
    value(model_.mutable_graph()->add_input(), name, type, dims);
  }
  // Its shape left to shape inference: every dimension named.
  void output(const std::string& name, int type, int rank) {
    auto* t = model_.mutable_graph()->add_output();
    t->set_name(name);
    auto* tensor = t->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(type);
    for (int d = 0; d < rank; ++d) tensor->mutable_shape()->add_dim()->set_dim_param("d" + std::to_string(d));
  }
  void scalar(const std::string& name, int type, double v) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name), t->set_data_type(type);
    if (type == kF32)
      t->add_float_data(static_cast<float>(v));
    else
      t->add_int32_data(static_cast<int32_t>(v));
  }
  onnx::TensorProto* tensor(const std::string& name, int type, const std::vector<int64_t>& dims) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name), t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    return t;
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs, const std::string& out,
                        const std::string& domain = "com.microsoft") {
    onnx::NodeProto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op), n->set_name("/" + op), n->set_domain(domain), n->add_output(out);
    for (const auto& i : inputs) n->add_input(i);
    return n;
  }
  static void attribute(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INT), a->set_i(v);
  }
  static void attribute(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::FLOAT), a->set_f(v);
  }
  static void attribute(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  Graph import() const {
    std::string bytes;
    model_.SerializeToString(&bytes);
    return import_onnx_bytes(bytes, "contrib.onnx");
  }

 private:
  static void value(onnx::ValueInfoProto* v, const std::string& name, int type, const std::vector<int64_t>& dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  onnx::ModelProto model_;
};

Tensor random_codes(DType type, const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Tensor t = Tensor::zeros(type, shape);
  for (int64_t& v : t.ints) v = type == DType::uint8 ? static_cast<int64_t>(rng() % 256) : int64_t(rng() % 256) - 128;
  return t;
}

// The schemas' Quantize: round half to even, add the zero point, saturate to the type.
int64_t quantize(double real, double scale, int64_t zero_point, DType type) {
  const int64_t lo = type == DType::uint8 ? 0 : -128, hi = type == DType::uint8 ? 255 : 127;
  const double q = std::nearbyint(real / scale) + static_cast<double>(zero_point);
  return static_cast<int64_t>(std::min<double>(std::max<double>(q, lo), hi));
}

// Every element of `got` equal to `want(i)`; returns how many differ.
int64_t differing(const Tensor& got, const std::function<int64_t(int64_t)>& want) {
  int64_t n = 0;
  for (int64_t i = 0; i < got.numel(); ++i) n += got.ints[i] != want(i);
  return n;
}

}  // namespace

TEST_CASE("ContribQuantized/QLinearAdd and QLinearMul with broadcasting: the schema's formula on every code",
          "[model][contrib]") {
  for (const bool add : {true, false}) {
    INFO((add ? "QLinearAdd" : "QLinearMul"));
    ModelBuilder m;
    const DType type = add ? DType::uint8 : DType::int8;
    const int onnx_type = add ? kU8 : kI8;
    m.input("a", onnx_type, {2, 3, 4});
    m.input("b", onnx_type, {3, 1});
    m.output("c", onnx_type, 3);
    // Add: a/8 + b/4 at 1/4 (half-codes: ties). Mul: a·b/32 at 1/2 (sixteenths: ties; saturates).
    const double sa = 1.0 / 8, sb = 1.0 / 4, sc = add ? 1.0 / 4 : 1.0 / 2;
    const int64_t za = add ? 128 : 0, zb = add ? 100 : -3, zc = add ? 120 : 5;
    m.scalar("sa", kF32, sa), m.scalar("sb", kF32, sb), m.scalar("sc", kF32, sc);
    m.scalar("za", onnx_type, za), m.scalar("zb", onnx_type, zb), m.scalar("zc", onnx_type, zc);
    m.node(add ? "QLinearAdd" : "QLinearMul", {"a", "sa", "za", "b", "sb", "zb", "sc", "zc"}, "c");
    const Tensor a = random_codes(type, {2, 3, 4}, 1), b = random_codes(type, {3, 1}, 2);
    const Tensor c = FloatExecutor(m.import()).run({{"a", a}, {"b", b}}).at("c");
    REQUIRE(c.dtype == type);
    REQUIRE(c.shape == Shape{2, 3, 4});
    CHECK(differing(c, [&](int64_t i) {
            const double x = (a.ints[i] - za) * sa, y = (b.ints[(i / 4) % 3] - zb) * sb;
            return quantize(add ? x + y : x * y, sc, zc, type);
          }) == 0);
  }
}

TEST_CASE("ContribQuantized/QLinearLeakyRelu, pools, ReduceMean, Concat and Where: the schemas' formulas",
          "[model][contrib]") {
  const double s = 1.0 / 8;
  const int64_t z = 128;
  const Tensor x = random_codes(DType::uint8, {2, 3, 4, 4}, 3);
  const auto deq = [&](int64_t i) { return (x.ints[i] - z) * s; };
  const auto run = [&](const std::function<void(ModelBuilder&)>& build, const std::string& out = "y") {
    ModelBuilder m;
    m.input("x", kU8, {2, 3, 4, 4});
    m.output(out, kU8, 4);
    m.scalar("s", kF32, s), m.scalar("z", kU8, static_cast<double>(z));
    build(m);
    return FloatExecutor(m.import()).run({{"x", x}}).at(out);
  };

  SECTION("QLinearLeakyRelu: alpha·x below zero, saturated") {
    const Tensor y = run([](ModelBuilder& m) {
      m.scalar("ys", kF32, 1.0 / 16), m.scalar("yz", kU8, 64);
      ModelBuilder::attribute(m.node("QLinearLeakyRelu", {"x", "s", "z", "ys", "yz"}, "y"), "alpha", 0.25f);
    });
    CHECK(differing(y, [&](int64_t i) {
            return quantize(deq(i) < 0 ? 0.25 * deq(i) : deq(i), 1.0 / 16, 64, DType::uint8);
          }) == 0);
  }
  SECTION("QLinearGlobalAveragePool: the mean of each channel") {
    const Tensor y = run([](ModelBuilder& m) {
      m.scalar("ys", kF32, 1.0 / 64), m.scalar("yz", kU8, 100);
      m.node("QLinearGlobalAveragePool", {"x", "s", "z", "ys", "yz"}, "y");
    });
    REQUIRE(y.shape == Shape{2, 3, 1, 1});
    CHECK(differing(y, [&](int64_t c) {
            double sum = 0;
            for (int64_t e = 0; e < 16; ++e) sum += deq(c * 16 + e);
            return quantize(sum / 16, 1.0 / 64, 100, DType::uint8);
          }) == 0);
  }
  SECTION("QLinearAveragePool: 2x2 windows, stride 2, padded by 1, the pads not counted (the schema's default)") {
    const Tensor y = run([](ModelBuilder& m) {
      m.scalar("ys", kF32, 1.0 / 32), m.scalar("yz", kU8, 128);
      onnx::NodeProto* n = m.node("QLinearAveragePool", {"x", "s", "z", "ys", "yz"}, "y");
      ModelBuilder::attribute(n, "kernel_shape", std::vector<int64_t>{2, 2});
      ModelBuilder::attribute(n, "strides", std::vector<int64_t>{2, 2});
      ModelBuilder::attribute(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
    });
    REQUIRE(y.shape == Shape{2, 3, 3, 3});
    CHECK(differing(y, [&](int64_t o) {
            const int64_t plane = o / 9, oy = o % 9 / 3, ox = o % 3;
            double sum = 0;
            int count = 0;
            for (int64_t iy = 2 * oy - 1; iy <= 2 * oy; ++iy)
              for (int64_t ix = 2 * ox - 1; ix <= 2 * ox; ++ix)
                if (iy >= 0 && iy < 4 && ix >= 0 && ix < 4) sum += deq(plane * 16 + iy * 4 + ix), ++count;
            return quantize(sum / count, 1.0 / 32, 128, DType::uint8);
          }) == 0);
  }
  SECTION("QLinearReduceMean over the last axis, kept") {
    const Tensor y = run([](ModelBuilder& m) {
      m.scalar("ys", kF32, 1.0 / 16), m.scalar("yz", kU8, 128);
      onnx::NodeProto* n = m.node("QLinearReduceMean", {"x", "s", "z", "ys", "yz"}, "y");
      ModelBuilder::attribute(n, "axes", std::vector<int64_t>{3});
      ModelBuilder::attribute(n, "keepdims", int64_t{1});
    });
    REQUIRE(y.shape == Shape{2, 3, 4, 1});
    CHECK(differing(y, [&](int64_t r) {
            double sum = 0;
            for (int64_t e = 0; e < 4; ++e) sum += deq(r * 4 + e);
            return quantize(sum / 4, 1.0 / 16, 128, DType::uint8);
          }) == 0);
  }
  SECTION("QLinearConcat: each input requantized to the output's scale") {
    const Tensor y = run([](ModelBuilder& m) {
      m.scalar("ys", kF32, 1.0 / 2), m.scalar("yz", kU8, 120);
      m.scalar("s2", kF32, 1.0 / 4), m.scalar("z2", kU8, 0);
      ModelBuilder::attribute(m.node("QLinearConcat", {"ys", "yz", "x", "s", "z", "x", "s2", "z2"}, "y"), "axis",
                              int64_t{1});
    });
    REQUIRE(y.shape == Shape{2, 6, 4, 4});
    CHECK(differing(y, [&](int64_t o) {
            const int64_t n = o / 96, c = o % 96 / 16, e = o % 16, i = n * 48 + (c % 3) * 16 + e;
            const double real = c < 3 ? deq(i) : x.ints[i] * (1.0 / 4);
            return quantize(real, 1.0 / 2, 120, DType::uint8);
          }) == 0);
  }
  SECTION("QLinearWhere: the chosen input requantized") {
    const Tensor y = run([](ModelBuilder& m) {
      m.scalar("ys", kF32, 1.0 / 4), m.scalar("yz", kU8, 128);
      m.scalar("s2", kF32, 1.0 / 2), m.scalar("z2", kU8, 7);
      onnx::TensorProto* cond = m.tensor("cond", onnx::TensorProto::BOOL, {4, 1});
      for (int v : {1, 0, 0, 1}) cond->add_int32_data(v);
      m.node("QLinearWhere", {"cond", "x", "s", "z", "x", "s2", "z2", "ys", "yz"}, "y");
    });
    CHECK(differing(y, [&](int64_t i) {
            const bool first = (i / 4) % 4 == 0 || (i / 4) % 4 == 3;
            return quantize(first ? deq(i) : (x.ints[i] - 7) * 0.5, 1.0 / 4, 128, DType::uint8);
          }) == 0);
  }
  SECTION("com.microsoft QLinearConv (NCHW) is ONNX's QLinearConv") {
    Tensor want;
    for (const std::string domain : {"", "com.microsoft"}) {
      const Tensor y = run([&](ModelBuilder& m) {
        m.scalar("ws", kF32, 1.0 / 64), m.scalar("wz", kI8, 0), m.scalar("ys", kF32, 1.0 / 4), m.scalar("yz", kU8, 90);
        onnx::TensorProto* w = m.tensor("w", kI8, {2, 3, 3, 3});
        for (int i = 0; i < 54; ++i) w->add_int32_data((i * 37) % 255 - 127);
        onnx::NodeProto* n = m.node("QLinearConv", {"x", "s", "z", "w", "ws", "wz", "ys", "yz"}, "y", domain);
        ModelBuilder::attribute(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
        if (!domain.empty()) ModelBuilder::attribute(n, "channels_last", int64_t{0});
      });
      if (domain.empty())
        want = y;
      else
        CHECK(differing(y, [&](int64_t i) { return want.ints[i]; }) == 0);
    }
  }
}

TEST_CASE("ContribQuantized/QGemm: per-column weights, int32 bias at alpha·a_scale·b_scale, float or quantized output",
          "[model][contrib]") {
  const Tensor a = random_codes(DType::uint8, {3, 5}, 4), b = random_codes(DType::int8, {4, 5}, 5);
  const std::vector<double> b_scales{1.0 / 64, 1.0 / 32, 1.0 / 128, 1.0 / 64};
  const std::vector<int32_t> bias{300, -1200, 77, 0};
  for (const bool quantized : {false, true}) {
    INFO((quantized ? "uint8 output" : "float output"));
    const float alpha = quantized ? 0.5f : 1.0f;
    ModelBuilder m;
    m.input("a", kU8, {3, 5});
    m.output("y", quantized ? kU8 : kF32, 2);
    m.scalar("as", kF32, 1.0 / 16), m.scalar("az", kU8, 128);
    onnx::TensorProto* bt = m.tensor("b", kI8, {4, 5});
    for (int64_t v : b.ints) bt->add_int32_data(static_cast<int32_t>(v));
    onnx::TensorProto* bs = m.tensor("bs", kF32, {4});
    for (double s : b_scales) bs->add_float_data(static_cast<float>(s));
    onnx::TensorProto* bz = m.tensor("bz", kI8, {4});
    for (int i = 0; i < 4; ++i) bz->add_int32_data(0);
    onnx::TensorProto* c = m.tensor("c", onnx::TensorProto::INT32, {4});
    for (int32_t v : bias) c->add_int32_data(v);
    std::vector<std::string> inputs{"a", "as", "az", "b", "bs", "bz", "c"};
    if (quantized) {
      m.scalar("ys", kF32, 1.0 / 8), m.scalar("yz", kU8, 128);
      inputs.insert(inputs.end(), {"ys", "yz"});
    }
    onnx::NodeProto* n = m.node("QGemm", inputs, "y");
    ModelBuilder::attribute(n, "transB", int64_t{1});
    ModelBuilder::attribute(n, "alpha", alpha);
    const Tensor y = FloatExecutor(m.import()).run({{"a", a}}).at("y");
    REQUIRE(y.shape == Shape{3, 4});
    const auto real = [&](int64_t i) {
      const int64_t row = i / 4, col = i % 4;
      double sum = 0;
      for (int64_t k = 0; k < 5; ++k) sum += (a.ints[row * 5 + k] - 128) / 16.0 * b.ints[col * 5 + k] * b_scales[col];
      return alpha * (sum + bias[col] / 16.0 * b_scales[col]);
    };
    if (quantized) {
      CHECK(differing(y, [&](int64_t i) { return quantize(real(i), 1.0 / 8, 128, DType::uint8); }) == 0);
    } else {
      int64_t off = 0;
      for (int64_t i = 0; i < y.numel(); ++i) off += y.floats[i] != real(i);
      CHECK(off == 0);
    }
  }
}

TEST_CASE("ContribQuantized/QLinearSigmoid and QLinearSoftmax: within one code of the formula in double",
          "[model][contrib]") {
  // Transcendental: float32 and double differ in the last bits, which moves a code only next to a tie.
  const Tensor x = random_codes(DType::uint8, {4, 10}, 6);
  for (const std::string op : {"QLinearSigmoid", "QLinearSoftmax"}) {
    INFO(op);
    ModelBuilder m;
    m.input("x", kU8, {4, 10});
    m.output("y", kU8, 2);
    m.scalar("s", kF32, 1.0 / 16), m.scalar("z", kU8, 128), m.scalar("ys", kF32, 1.0 / 256), m.scalar("yz", kU8, 0);
    onnx::NodeProto* n = m.node(op, {"x", "s", "z", "ys", "yz"}, "y");
    if (op == "QLinearSoftmax") ModelBuilder::attribute(n, "opset", int64_t{13});
    const Tensor y = FloatExecutor(m.import()).run({{"x", x}}).at("y");
    int64_t exact = 0, far = 0;
    for (int64_t i = 0; i < y.numel(); ++i) {
      const double v = (x.ints[i] - 128) / 16.0;
      double real = 1 / (1 + std::exp(-v));
      if (op == "QLinearSoftmax") {
        double sum = 0;
        for (int64_t j = i / 10 * 10; j < i / 10 * 10 + 10; ++j) sum += std::exp((x.ints[j] - 128) / 16.0);
        real = std::exp(v) / sum;
      }
      const int64_t want = quantize(real, 1.0 / 256, 0, DType::uint8);
      exact += y.ints[i] == want;
      far += std::abs(y.ints[i] - want) > 1;
    }
    CHECK(far == 0);
    CHECK(exact >= y.numel() - 2);
  }
}

TEST_CASE("ContribQuantized/what has no float form is an error naming the node", "[model][contrib]") {
  const auto error = [](const std::function<void(ModelBuilder&)>& build) {
    ModelBuilder m;
    m.input("x", kU8, {1, 2, 4, 4});
    m.output("y", kU8, 4);
    m.scalar("s", kF32, 0.5), m.scalar("z", kU8, 128);
    build(m);
    try {
      m.import();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error([](ModelBuilder& m) {
               ModelBuilder::attribute(m.node("QLinearGlobalAveragePool", {"x", "s", "z", "s", "z"}, "y"),
                                       "channels_last", int64_t{1});
             }),
             Catch::Contains("contrib.onnx: node '/QLinearGlobalAveragePool' "
                             "(com.microsoft::QLinearGlobalAveragePool): channels_last=1 (NHWC) is not supported"));
  CHECK_THAT(error([](ModelBuilder& m) {
               ModelBuilder::attribute(m.node("QLinearConcat", {"s", "z", "x", "s"}, "y"), "axis", int64_t{1});
             }),
             Catch::Contains("expected Y_scale, Y_zero_point, then (tensor, scale, zero point) triples; got 4 inputs"));
  CHECK_THAT(error([](ModelBuilder& m) {
               m.node("QLinearSigmoid", {"x", "s", "", "s", ""}, "y");
             }),
             Catch::Contains("no zero point names the codes' type"));
}
