// Golden vectors (vectors/, docs/vectors.md):
// - each format's bytes for hand-derived values (two's complement hex lines with a trailing newline,
//   little-endian at the smallest byte width, NumPy dtypes), and decode(encode(v)) == v for widths 1..64,
//   signed and unsigned, extremes included; malformed files are errors naming the line;
// - the shipped CNN (dense and with 2:4 layers) over 3 images in every format: every manifest entry reads
//   back as exactly the integers the DirectEngine computed (its own trace, an independent run), two runs
//   give byte-identical directories, `verify` passes, and a flipped byte is caught with the file and the
//   first differing element.

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <random>
#include <tuple>

#include "core/error.hpp"
#include "core/files.hpp"
#include "kernels/block_dot.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "ops/sparse_decode.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"
#include "vectors/vectors.hpp"

using namespace chipref;
using namespace chipref::vectors;
namespace fs = std::filesystem;

TEST_CASE("Vectors/encodings: hand-derived bytes, round trips at every width, malformed files named", "[vectors]") {
  CHECK(encode({-1, 5, -128, 127}, {4}, {8, true}, Format::mem, "t") == "ff\n05\n80\n7f\n");
  CHECK(encode({-1, 5}, {2}, {12, true}, Format::mem, "t") == "fff\n005\n");
  CHECK(encode({-1, 5}, {2}, {12, true}, Format::bin, "t") == std::string("\xff\xff\x05\x00", 4));
  CHECK(encode({0xD8}, {1}, {32, false}, Format::bin, "t") == std::string("\xd8\x00\x00\x00", 4));
  CHECK(encode({3}, {1}, {4, false}, Format::mem, "t") == "3\n");
  CHECK(encode({-1, 5}, {2}, {12, true}, Format::h, "input_0000/0003_a.b.h") ==
        "// chipref golden vector input_0000/0003_a.b.h: 12-bit signed [2], row-major (docs/vectors.md)\n#pragma "
        "once\n#include <stdint.h>\n"
        "static const int16_t v_0003_a_b[2] = {\n  -1, 5,\n};\n");
  CHECK_THROWS_WITH(encode({128}, {1}, {8, true}, Format::mem, "w.mem"),
                    Catch::Contains("w.mem: element 0 = 128 does not fit 8-bit signed"));
  std::mt19937_64 rng(61);
  for (int bits : {1, 4, 8, 9, 12, 16, 17, 31, 32, 33, 63, 64})
    for (bool is_signed : {true, false}) {
      if (!is_signed && bits == 64) continue;  // values are int64
      const ElementType t{bits, is_signed};
      std::uniform_int_distribution<int64_t> d(t.min(), t.max());
      std::vector<int64_t> v = {t.min(), t.max(), 0};
      for (int i = 0; i < 50; ++i) v.push_back(d(rng));
      for (Format f : kAllFormats) {
        INFO(bits << (is_signed ? " signed " : " unsigned ") << to_string(f));
        CHECK(decode(encode(v, {static_cast<int64_t>(v.size())}, t, f, "t"), t, f, static_cast<int64_t>(v.size()),
                     "t") == v);
      }
    }
  CHECK_THROWS_WITH(decode("ff\n0g\n", {8, true}, Format::mem, 2, "a.mem"), Catch::Contains("a.mem: line 2 has 'g'"));
  CHECK_THROWS_WITH(decode("x[2] = {1, two};", {8, true}, Format::h, 2, "a.h"),
                    Catch::Contains("a.h: element 1 is 'two'"));
  CHECK_THROWS_WITH(decode("ff\n05", {8, true}, Format::mem, 2, "a.mem"),
                    Catch::Contains("a.mem: 5 bytes; 2 lines of 3 expected"));
  CHECK_THROWS_WITH(decode("3ff\n", {9, true}, Format::mem, 1, "a.mem"), Catch::Contains("line 1 exceeds 9 bits"));
  CHECK(sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2's example
}

namespace {
std::map<std::string, std::string> directory_bytes(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = read_file_bytes(e.path().string());
  return files;
}
}  // namespace

TEST_CASE("Vectors/the CNN in every format: read back exact, deterministic, verify catches a flipped byte",
          "[vectors]") {
  const char* cnn = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";
  const Preprocess norm = *read_sidecar_preprocess(cnn);
  const Graph graph = import_onnx(cnn);
  const Tensor calibration = load_fashion_mnist("train", 200, norm).images;
  const fs::path root = fs::temp_directory_path() / "chipref_test_vectors";
  fs::remove_all(root);
  for (const char* yaml : {"defaults:\n  weights: {bits: 8}\n  activations: {bits: 8}\n",
                           "defaults:\n  weights: {bits: 8}\n  activations: {bits: 8}\nlayers:\n  - match: \"/pw/*\"\n "
                           "   sparsity: {pattern: \"2:4\"}\n"}) {
    const bool sparse = std::string(yaml).find("sparsity") != std::string::npos;
    INFO((sparse ? "2:4 pointwise layer" : "dense"));
    const QuantConfig config = parse_quant_config(yaml, "v.yaml");
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", norm});
    const fs::path model = root / "model";
    save_int_graph(q, model.string());
    const Tensor images = load_fashion_mnist("t10k", 3, norm).images;
    Options options;
    options.formats = {Format::mem, Format::bin, Format::npy, Format::h};
    const InputSource source{"fashion-mnist", "", 3, ""};
    const Manifest m = write_vectors(q, model.string(), images, source, (root / "a").string(), options,
                                     *make_engine_by_name(q, "direct"));
    write_vectors(q, model.string(), images, source, (root / "b").string(), options, *make_engine_by_name(q, "direct"));
    CHECK(directory_bytes(root / "a") == directory_bytes(root / "b"));
    // three inputs on three threads (and more jobs than inputs): the same bytes as one thread
    for (int jobs : {3, 8}) {
      fs::remove_all(root / "b");
      write_vectors(q, model.string(), images, source, (root / "b").string(), options,
                    *make_engine_by_name(q, "direct"), jobs);
      CHECK(directory_bytes(root / "a") == directory_bytes(root / "b"));
    }

    // Every entry against an independent run's trace (or the constant itself).
    std::vector<RunTrace> traces(3);
    const DirectEngine engine(q);
    for (int64_t i = 0; i < 3; ++i)
      engine.run(Tensor::of_floats({1, 1, 28, 28}, std::vector<float>(images.floats.begin() + i * 784,
                                                                      images.floats.begin() + (i + 1) * 784)),
                 &traces[i]);
    int64_t wrong = 0, activations = 0, constants = 0, sparse_files = 0;
    for (const Entry& e : m.entries) {
      const std::vector<int64_t> got = read_vector((root / "a").string(), e);
      if (e.input >= 0) {
        const auto& t = traces[e.input].values.at(e.tensor);
        wrong += got != std::vector<int64_t>(t.data.begin(), t.data.end()) || e.shape != t.shape;
        ++activations;
      } else {
        const Tensor c = q.constants.count(e.tensor) ? q.constants.at(e.tensor) : mac_weight_codes(q, e.tensor);
        wrong += got != c.ints;
        ++constants;
        sparse_files += e.role == "values" || e.role == "indices" || e.role == "weight_dense";
      }
    }
    CHECK(wrong == 0);
    CHECK(activations > 0);
    CHECK(constants > 0);
    CHECK(sparse_files ==
          (sparse ? 3 * 4 : 0));  // the decoder's values and indices and the dense weights it outputs, in 4 formats
    CHECK(verify_vectors((root / "a").string(), make_engine_by_name) > 0);

    // A flipped byte in the middle of an accumulator file: the file and the element are named.
    const auto acc = std::find_if(m.entries.begin(), m.entries.end(),
                                  [](const Entry& e) { return e.role == "accumulator" && e.format == Format::bin; });
    REQUIRE(acc != m.entries.end());
    const fs::path victim = root / "a" / acc->file;
    std::string bytes = read_file_bytes(victim.string());
    const size_t at = bytes.size() / 2 / 4 * 4;  // the low byte of an element: it always changes the value
    bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
    write_file_atomically(victim.string(), bytes);
    CHECK_THROWS_AS(verify_vectors((root / "a").string(), make_engine_by_name), VerificationMismatch);
    CHECK_THROWS_WITH(
        verify_vectors((root / "a").string(), make_engine_by_name),
        Catch::Contains(acc->file) && Catch::Contains("first differing element " + std::to_string(at / 4)));
    // With the model changed, verify still names the file but does not guess the element.
    IntGraph other = q;
    other.config_name += " (edited)";
    save_int_graph(other, model.string());
    CHECK_THROWS_WITH(verify_vectors((root / "a").string(), make_engine_by_name),
                      Catch::Contains(acc->file) && Catch::Contains("the model changed"));
    fs::remove(victim);
    CHECK_THROWS_WITH(verify_vectors((root / "a").string(), make_engine_by_name),
                      Catch::Contains(acc->file + ": missing"));
    fs::remove_all(root);
  }
}

// A C header of a MB-sized tensor compiles (the system C compiler, as a testbench's C side would) and
// holds exactly the values: a program built from it prints the same checksum as computed here.
TEST_CASE("Vectors/a 1M-element C header compiles and holds the values", "[vectors]") {
  const fs::path dir = fs::temp_directory_path() / "chipref_test_header";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937_64 rng(73);
  std::uniform_int_distribution<int64_t> d(-128, 127);
  std::vector<int64_t> values(1 << 20);
  for (auto& v : values) v = d(rng);
  values[0] = -128, values[1] = 127;
  int64_t expected = 0;
  for (size_t i = 0; i < values.size(); ++i) expected += values[i] * static_cast<int64_t>(i % 7 + 1);
  write_file_atomically((dir / "big.h").string(), encode(values, {1 << 20}, {8, true}, Format::h, "big.h"));
  write_file_atomically((dir / "main.c").string(),
                        "#include <stdio.h>\n#include \"big.h\"\nint main(void) { long long s = 0; for (long i = 0; i "
                        "< (1 << 20); ++i) s += v_big[i] * (i % 7 + 1);"
                        " printf(\"%lld\\n\", s); return 0; }\n");
  const std::string command = "cd " + dir.string() + " && cc -O0 -o main main.c && ./main";
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char line[64] = {0};
  const bool read = fgets(line, sizeof line, p) != nullptr;
  const int status = pclose(p);
  REQUIRE(status == 0);
  REQUIRE(read);
  CHECK(std::stoll(line) == expected);
  fs::remove_all(dir);
}

namespace {
Preprocess cnn_norm() { return *read_sidecar_preprocess(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx"); }

// The shipped CNN, 8-bit weights and activations, calibrated on 100 training images.
IntGraph quantized_cnn() {
  const Graph graph = import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx");
  const Tensor calibration = load_fashion_mnist("train", 100, cnn_norm()).images;
  const QuantConfig config =
      parse_quant_config("defaults:\n  weights: {bits: 8}\n  activations: {bits: 8}\n", "v.yaml");
  return quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", cnn_norm()});
}

// `q` saved under ROOT/model and its vectors of the first test image under ROOT/v, in .mem files of 32-bit words
// (elements narrower than a word packed into it).
Manifest packed_vectors_of_one_image(const IntGraph& q, const fs::path& root) {
  save_int_graph(q, (root / "model").string());
  Options options;
  options.formats = {Format::mem};
  options.word_bits = 32;
  const Tensor image = load_fashion_mnist("t10k", 1, cnn_norm()).images;
  return write_vectors(q, (root / "model").string(), image, InputSource{"fashion-mnist", "", 1, ""},
                       (root / "v").string(), options, *make_engine_by_name(q, "direct"));
}
}  // namespace

TEST_CASE("Vectors/layouts and packing: hand-derived orders and words", "[vectors]") {
  // NHWC of [1, 2, 2, 2] holding 0..7 in NCHW order.
  CHECK(to_stored(parse_layout("nhwc"), {1, 2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}) ==
        std::vector<int64_t>{0, 4, 1, 5, 2, 6, 3, 7});
  // 2×2 tiles of a 3×3 matrix 0..8: tiles row-major over the grid, zero-padded.
  const std::vector<int64_t> tiled = to_stored(parse_layout("tiled:2x2"), {3, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(tiled == std::vector<int64_t>{0, 1, 3, 4, 2, 0, 5, 0, 6, 7, 0, 0, 8, 0, 0, 0});
  CHECK(from_stored(parse_layout("tiled:2x2"), {3, 3}, tiled) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  // Two int8 elements a 16-bit word: lsb-first puts element 0 low.
  Layout two = parse_layout("nchw");
  two.per_word = 2;
  CHECK(pack(two, {8, true}, {-1, 5, 7}) == std::vector<int64_t>{0x05ff, 0x0007});
  two.msb_first = true;
  CHECK(pack(two, {8, true}, {-1, 5, 7}) == std::vector<int64_t>{0xff05, 0x0700});
  CHECK(unpack(two, {8, true}, {0xff05, 0x0700}, 3) == std::vector<int64_t>{-1, 5, 7});
  CHECK_THROWS_WITH(parse_layout("tiled:0x4"), Catch::Contains("'tiled:0x4' is not one of: nchw, nhwc, tiled:RxC"));
  Layout wide = parse_layout("nchw");
  wide.per_word = 3;
  CHECK_THROWS_WITH(word_type(wide, {32, true}), Catch::Contains("3 elements of 32 bits make a 96-bit word"));
}

TEST_CASE("Vectors/every layout, bus width and bit order reads back as the engine's integers", "[vectors]") {
  const Preprocess norm = cnn_norm();
  const IntGraph q = quantized_cnn();
  const fs::path root = fs::temp_directory_path() / "chipref_test_vector_layouts";
  fs::remove_all(root);
  save_int_graph(q, (root / "model").string());
  const Tensor image = load_fashion_mnist("t10k", 1, norm).images;
  RunTrace trace;
  DirectEngine(q).run(image, &trace);
  struct Case {
    const char* layout;
    int word_bits;
    bool msb_first;
  };
  for (const Case& c : {Case{"nchw", 0, false}, Case{"nhwc", 64, true}, Case{"tiled:4x8", 32, false},
                        Case{"tiled:3x5", 0, false}, Case{"nchw", 48, true}}) {
    INFO(c.layout << ", " << c.word_bits << "-bit words, " << (c.msb_first ? "msb" : "lsb") << "-first");
    Options options;
    options.formats = {Format::mem, Format::bin, Format::npy, Format::h};
    options.layout = parse_layout(c.layout), options.layout.msb_first = c.msb_first, options.word_bits = c.word_bits;
    const fs::path dir = root / "v";
    const Manifest m = write_vectors(q, (root / "model").string(), image, InputSource{"fashion-mnist", "", 1, ""},
                                     dir.string(), options, *make_engine_by_name(q, "direct"));
    CHECK(read_manifest(dir.string()).entries.size() == m.entries.size());
    int64_t wrong = 0, packed = 0;
    for (const Entry& e : m.entries) {
      const std::vector<int64_t> got = read_vector(dir.string(), e);
      if (e.input >= 0) {
        const auto& t = trace.values.at(e.tensor);
        wrong += got != std::vector<int64_t>(t.data.begin(), t.data.end());
      } else {
        wrong += got != q.constants.at(e.tensor).ints;
      }
      packed += e.spec.per_word > 1;
    }
    CHECK(wrong == 0);
    CHECK((packed > 0) == (c.word_bits > 0));
    CHECK(verify_vectors(dir.string(), make_engine_by_name) > 0);
    // A C header says how its values are arranged: the layout (and packing) of its file, not "row-major".
    for (const Entry& e : m.entries) {
      if (e.format != Format::h) continue;
      INFO(e.file);
      const std::string bytes = read_file_bytes((dir / e.file).string());
      const std::string first_line = bytes.substr(0, bytes.find('\n'));
      CHECK(first_line.find("in the layout " + e.layout) != std::string::npos);
      CHECK((first_line.find("elements (element 0 in the") != std::string::npos) == (e.spec.per_word > 1));
      if (e.layout.rfind("tiled", 0) == 0) CHECK(first_line.find("row-major") == std::string::npos);
    }
    if (c.layout == std::string("tiled:4x8")) {
      // A manifest whose tiled entry lost a tile dimension, or names a tile outside 1..4096, or whose
      // default layout is unknown: an InputError naming the manifest (the fuzzer's first find was
      // the short tile, which escaped as std::out_of_range).
      const std::string manifest = (dir / "manifest.json").string(), original = read_file_bytes(manifest);
      for (const auto& [from, to, says] :
           {std::tuple<std::string, std::string, std::string>{"\"tile\": [\n    4,\n    8\n   ]", "\"tile\": [4]",
                                                              "tile holds 1 numbers; expected 2"},
            {"\"tile\": [\n    4,\n    8\n   ]", "\"tile\": [4, 0]", "layout 'tiled:4x0' is not one of"},
            {"\"layout\": \"tiled:4x8\"", "\"layout\": \"diagonal\"", "layout 'diagonal' is not one of"},
            {"\"bits\": 8,", "\"bits\": 8.5,", "bits: 8.5 is not an integer"},
            {"\"shape\": [", "\"shape\": [1099511627776, 1099511627776, ", "more than the 2^30 elements"},
            {"\"bits\": 8,", "\"bits\": 1e300,", "bits: 1e+300 is not an integer"},
            {"\"words\": ", "\"words\": 18446744073709551615, \"x\": ",
             "words: 18446744073709551615 is not an integer"}}) {
        const size_t at = original.find(from);
        REQUIRE(at != std::string::npos);
        write_file_atomically(manifest, std::string(original).replace(at, from.size(), to));
        CHECK_THROWS_AS(read_manifest(dir.string()), InputError);
        CHECK_THROWS_WITH(read_manifest(dir.string()), Catch::StartsWith(manifest + ": ") && Catch::Contains(says));
      }
    }
    fs::remove_all(dir);
  }
  fs::remove_all(root);
}

TEST_CASE("Vectors/per-layer layouts from YAML: tagged files, exact read back, errors with file:line", "[vectors]") {
  const fs::path root = fs::temp_directory_path() / "chipref_test_layer_layouts";
  fs::remove_all(root);
  fs::create_directories(root);
  write_file_atomically(
      (root / "layouts.yaml").string(),
      "layers:\n  - match: \"/pw/*\"\n    layout: tiled:4x4\n    word_bits: 64\n    bit_order: msb-first\n");
  Options options;
  options.formats = {Format::mem, Format::bin};
  options.layer_layouts = load_layer_layouts((root / "layouts.yaml").string());
  REQUIRE(options.layer_layouts.size() == 1);
  const Preprocess norm = cnn_norm();
  const IntGraph q = quantized_cnn();
  save_int_graph(q, (root / "model").string());
  const Tensor image = load_fashion_mnist("t10k", 1, norm).images;
  RunTrace trace;
  DirectEngine(q).run(image, &trace);
  const Manifest m = write_vectors(q, (root / "model").string(), image, InputSource{"fashion-mnist", "", 1, ""},
                                   (root / "v").string(), options, *make_engine_by_name(q, "direct"));
  int64_t tagged = 0, wrong = 0;
  for (const Entry& e : m.entries) {
    const bool pw = e.op.rfind("/pw/", 0) == 0;
    const bool has_tag = e.file.find(".tiled4x4_w64_msb.") != std::string::npos;
    wrong += pw != has_tag;
    tagged += has_tag;
    const std::vector<int64_t> got = read_vector((root / "v").string(), e);
    wrong += e.input >= 0 ? got != std::vector<int64_t>(trace.values.at(e.tensor).data.begin(),
                                                        trace.values.at(e.tensor).data.end())
                          : got != q.constants.at(e.tensor).ints;
  }
  CHECK(tagged > 0);
  CHECK(wrong == 0);
  CHECK(verify_vectors((root / "v").string(), make_engine_by_name) >
        0);  // the manifest carries the per-layer layouts for regeneration
  CHECK(read_manifest((root / "v").string()).options.layer_layouts.size() == 1);
  write_file_atomically((root / "bad.yaml").string(), "layers:\n  - match: \"/pw/*\"\n    word_bits: 99\n");
  CHECK_THROWS_WITH(load_layer_layouts((root / "bad.yaml").string()),
                    Catch::Contains("bad.yaml:3:16: word_bits 99 is outside 0..64"));
  write_file_atomically((root / "bad2.yaml").string(), "layers:\n  - match: \"/pw/*\"\n    tile: 4\n");
  CHECK_THROWS_WITH(load_layer_layouts((root / "bad2.yaml").string()),
                    Catch::Contains("bad2.yaml:3:11: unknown key 'tile'"));
  fs::remove_all(root);
}

TEST_CASE("Vectors/--engine systemc writes the same bytes for every layer-level tensor as the DirectEngine",
          "[vectors][systemc]") {
  const IntGraph q = quantized_cnn();
  const fs::path root = fs::temp_directory_path() / "chipref_test_vectors_systemc";
  fs::remove_all(root);
  save_int_graph(q, (root / "model").string());
  const Tensor images = load_fashion_mnist("t10k", 3, cnn_norm()).images;
  Options options;
  options.formats = {Format::mem, Format::bin};
  DirectEngine direct_engine(q);
  const Manifest direct = write_vectors(q, (root / "model").string(), images, InputSource{"fashion-mnist", "", 3, ""},
                                        (root / "direct").string(), options, direct_engine);
  SystemCEngine systemc_engine(q);
  const Manifest systemc = write_vectors(q, (root / "model").string(), images, InputSource{"fashion-mnist", "", 3, ""},
                                         (root / "systemc").string(), options, systemc_engine);
  std::map<std::string, const Entry*> by_file;
  for (const Entry& e : systemc.entries) by_file[e.file] = &e;
  int64_t per_input = 0;
  for (const Entry& e : direct.entries) {
    INFO(e.file);
    REQUIRE(by_file.count(e.file));
    CHECK(read_file_bytes((root / "systemc" / e.file).string()) ==
          read_file_bytes((root / "direct" / e.file).string()));
    per_input += e.input >= 0;
  }
  // Beyond them: each MacArray's weight, activation and accumulator streams in tile order, per input and
  // format, read back as the SystemC engine's streams of that input.
  int64_t mac_ops = 0;
  for (const Node& op : q.ops) mac_ops += op.op_type == "conv_mac" || op.op_type == "linear_mac";
  REQUIRE(systemc.entries.size() == direct.entries.size() + static_cast<size_t>(mac_ops * 3 * 3 * 2));
  SystemCEngine engine(q);
  RunTrace trace;
  engine.run(load_fashion_mnist("t10k", 1, cnn_norm()).images, &trace);
  int64_t streams = 0;
  for (const Entry& e : systemc.entries) {
    if (e.role.rfind("tiles_", 0) != 0 || e.input != 0) continue;
    INFO(e.file);
    const TileStreams& s = trace.tile_streams.at(e.op);
    const CodeTensor& want = e.role == "tiles_weights"       ? s.weights
                             : e.role == "tiles_activations" ? s.activations
                                                             : s.accumulators;
    CHECK(e.shape == want.shape);
    CHECK(read_vector((root / "systemc").string(), e) == std::vector<int64_t>(want.data.begin(), want.data.end()));
    ++streams;
  }
  CHECK(streams == mac_ops * 3 * 2);
  CHECK(per_input > 100);  // activations, accumulators and outputs of 3 inputs, not only constants
  CHECK(read_manifest((root / "systemc").string()).options.engine == "systemc");
  CHECK(verify_vectors((root / "systemc").string(), make_engine_by_name) >
        0);  // regenerated through the SystemC engine
  CHECK_THROWS_WITH(make_engine_by_name(q, "rtl"), Catch::Contains("expected direct or systemc"));
  fs::remove_all(root);
}

// The element width of a weight file is the hardware's: 4-bit weights (kept in int8 tensors) are 4-bit
// elements, 8 to a 32-bit word; unsigned asymmetric weights are uint8 with their zero points in the manifest.
// Each file reads back as the IntGraph's codes; the widths and zero points come from the config, not the code.
TEST_CASE("Vectors/block-format weights: element codes and scale codes at their widths, each naming the other",
          "[vectors][weights][mx]") {
  const Graph graph = import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx");
  const Tensor calibration = load_fashion_mnist("train", 50, cnn_norm()).images;
  const fs::path root = fs::temp_directory_path() / "chipref_test_vector_block_formats";
  fs::remove_all(root);
  for (const auto& [format, bits] : {std::pair<std::string, int>{"mxfp4_e2m1", 4}, {"mxfp6_e3m2", 6}, {"mxint8", 8}}) {
    INFO(format);
    const QuantConfig config = parse_quant_config("defaults:\n  format: {name: " + format + "}\n", "mx.yaml");
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", cnn_norm()});
    const Manifest m = packed_vectors_of_one_image(q, root);
    int codes = 0, scales = 0;
    for (const Entry& e : m.entries) {
      if (e.role != "codes" && e.role != "scales") continue;
      INFO(e.file);
      const bool is_codes = e.role == "codes";
      codes += is_codes, scales += !is_codes;
      CHECK(e.type.bits == (is_codes ? bits : 8));
      CHECK_FALSE(e.type.is_signed);
      CHECK(e.spec.per_word == 32 / e.type.bits);
      CHECK(e.block_format == format);
      CHECK(e.block_size == 32);
      CHECK(e.block_partner == (is_codes ? e.tensor.substr(0, e.tensor.size() - 5) + "scales"
                                         : e.tensor.substr(0, e.tensor.size() - 6) + "codes"));
      CHECK(read_vector((root / "v").string(), e) == q.constants.at(e.tensor).ints);
    }
    CHECK(codes == 6);
    CHECK(scales == 6);
    // The classifier's operands as the vectors give them (its input converted to the block format, its weights)
    // recompute its output vector through the spec pieces: what an RTL testbench of a block datapath does.
    std::map<std::string, std::vector<int64_t>> by_role;
    std::string head;
    for (const Entry& e : m.entries)
      if (e.op.find("/head/") == 0 && e.input <= 0)
        by_role[e.role] = read_vector((root / "v").string(), e), head = e.op;
    const Node& op = *std::find_if(q.ops.begin(), q.ops.end(), [&](const Node& n) { return n.name == head; });
    const BlockFormat fa = parse_block_format(op.get_string("activation_format"), 32),
                      fw = parse_block_format(op.get_string("weight_format"), 32);
    const int64_t K = 48, M = 10, blocks = 2;
    REQUIRE(by_role.at("input_codes").size() == K);
    REQUIRE(by_role.at("codes").size() == M * K);
    const IntValue& y = q.values.at(op.outputs[0]);
    const ExactValue s_y = decode(kFp32, static_cast<uint32_t>(op.get_int("output_scale_bits")));
    for (int64_t m = 0; m < M; ++m) {
      BlockAccumulator sum(BlockAccumulation::exact);
      sum.add_value(decode(kFp32, static_cast<uint32_t>(by_role.at("float32")[static_cast<size_t>(m)])));
      for (int64_t b = 0; b < blocks; ++b) {
        std::vector<uint32_t> a(32), w(32);
        for (int64_t i = 0; i < 32 && b * 32 + i < K; ++i) {
          a[static_cast<size_t>(i)] = static_cast<uint32_t>(by_role.at("input_codes")[static_cast<size_t>(b * 32 + i)]);
          w[static_cast<size_t>(i)] =
              static_cast<uint32_t>(by_role.at("codes")[static_cast<size_t>(m * K + b * 32 + i)]);
        }
        const auto sa = static_cast<uint32_t>(by_role.at("input_scales")[static_cast<size_t>(b)]);
        const auto sw = static_cast<uint32_t>(by_role.at("scales")[static_cast<size_t>(m * blocks + b)]);
        const ExactValue part = block_dot(BlockVector{&fa, &sa, a.data()}, BlockVector{&fw, &sw, w.data()},
                                          std::min<int64_t>(32, K - b * 32), BlockAccumulation::exact);
        if (part.significand == 0) continue;
        REQUIRE_FALSE(part.sticky);  // one block's sum fits the window here (8-bit elements at most)
        const int drop = __builtin_ctzll(part.significand);
        const auto magnitude = static_cast<__int128>(part.significand >> drop);
        sum.add_block(part.negative ? -magnitude : magnitude, part.exponent + drop);
      }
      const int64_t code =
          std::clamp<int64_t>(round_quotient(sum.result(), s_y, RoundingMode::half_even) + y.quant.zero_point,
                              op.get_int("clamp_lo"), op.get_int("clamp_hi"));
      CHECK(code == by_role.at("output")[static_cast<size_t>(m)]);
    }
    // The manifest reads back as written.
    const Manifest again = read_manifest((root / "v").string());
    CHECK(manifest_text(again) == manifest_text(m));
  }
  fs::remove_all(root);
}

TEST_CASE("Vectors/a block matmul writes both operands converted, and they recompute its output", "[vectors][mx]") {
  // The ViT in MXFP8: attention's Q·Kᵀ and weights·V are block_matmul ops. Their A rows and B columns as the
  // vectors give them, through block_dot and one rounding, must give the output vector.
  const std::string vit = CHIPREF_SOURCE_DIR "/examples/fmnist_vit.onnx";
  const Preprocess norm = *read_sidecar_preprocess(vit);
  const Graph graph = import_onnx(vit);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/mxfp8.yaml");
  const Tensor calibration = load_fashion_mnist("train", 50, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_vit.onnx", norm});
  const fs::path root = fs::temp_directory_path() / "chipref_test_vector_block_matmul";
  fs::remove_all(root);
  save_int_graph(q, (root / "model").string());
  const Manifest m = write_vectors(q, (root / "model").string(), load_fashion_mnist("t10k", 1, norm).images,
                                   InputSource{"fashion-mnist", "", 1, ""}, (root / "v").string(), Options{},
                                   *make_engine_by_name(q, "direct"));
  int matmuls = 0;
  for (const Node& op : q.ops) {
    if (op.op_type != "block_matmul") continue;
    ++matmuls;
    INFO(op.name);
    std::map<std::string, std::vector<int64_t>> by_role;
    std::map<std::string, Shape> shape_of;
    for (const Entry& e : m.entries)
      if (e.op == op.name && e.input == 0)
        by_role[e.role] = read_vector((root / "v").string(), e), shape_of[e.role] = e.shape;
    const Shape& a = shape_of.at("a_codes");
    const Shape& b = shape_of.at("b_codes");  // B's columns: [.., N, K]
    const int64_t K = a.back(), M = a[a.size() - 2], N = b[b.size() - 2];
    const int64_t batch = element_count(a) / (M * K), blocks = shape_of.at("a_scales").back();
    CHECK(shape_of.at("output").back() == N);
    const BlockFormat fa = parse_block_format(op.get_string("activation_format")),
                      fb = parse_block_format(op.get_string("weight_format"));
    const ExactValue s_y = decode(kFp32, static_cast<uint32_t>(op.get_int("output_scale_bits")));
    const int64_t z_y = q.values.at(op.outputs[0]).quant.zero_point;
    for (int64_t t = 0; t < batch; ++t)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          std::vector<uint32_t> ea(static_cast<size_t>(K)), eb(static_cast<size_t>(K)), sa(static_cast<size_t>(blocks)),
              sb(static_cast<size_t>(blocks));
          for (int64_t k = 0; k < K; ++k)
            ea[static_cast<size_t>(k)] =
                static_cast<uint32_t>(by_role.at("a_codes")[static_cast<size_t>((t * M + i) * K + k)]),
            eb[static_cast<size_t>(k)] =
                static_cast<uint32_t>(by_role.at("b_codes")[static_cast<size_t>((t * N + j) * K + k)]);
          for (int64_t k = 0; k < blocks; ++k)
            sa[static_cast<size_t>(k)] =
                static_cast<uint32_t>(by_role.at("a_scales")[static_cast<size_t>((t * M + i) * blocks + k)]),
            sb[static_cast<size_t>(k)] =
                static_cast<uint32_t>(by_role.at("b_scales")[static_cast<size_t>((t * N + j) * blocks + k)]);
          const ExactValue dot =
              block_dot(BlockVector{&fa, sa.data(), ea.data()}, BlockVector{&fb, sb.data(), eb.data()}, K,
                        parse_block_accumulation(op.get_string("accumulation")));
          const int64_t code = std::clamp<int64_t>(round_quotient(dot, s_y, RoundingMode::half_even) + z_y,
                                                   op.get_int("clamp_lo"), op.get_int("clamp_hi"));
          REQUIRE(code == by_role.at("output")[static_cast<size_t>((t * M + i) * N + j)]);
        }
  }
  CHECK(matmuls == 4);
  fs::remove_all(root);
}

TEST_CASE("Vectors/weights at their own width and coding: 4-bit packed 8 a word, uint8 with zero points",
          "[vectors][weights]") {
  const Graph graph = import_onnx(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx");
  const Tensor calibration = load_fashion_mnist("train", 50, cnn_norm()).images;
  const fs::path root = fs::temp_directory_path() / "chipref_test_vector_weight_widths";
  fs::remove_all(root);
  struct Case {
    const char* yaml;
    int bits;
    bool is_signed, symmetric;
  };
  for (const Case& c : {Case{"defaults:\n  weights: {bits: 4}\n", 4, true, true},
                        Case{"defaults:\n  weights: {bits: 3, signed: false}\n", 3, false, true},
                        Case{"defaults:\n  weights: {bits: 8, signed: false, symmetric: false}\n", 8, false, false}}) {
    INFO(c.yaml);
    const QuantConfig config = parse_quant_config(c.yaml, "w.yaml");
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", cnn_norm()});
    const Manifest m = packed_vectors_of_one_image(q, root);
    int weights = 0;
    for (const Entry& e : m.entries) {
      if (e.role != "weight") continue;
      INFO(e.file);
      ++weights;
      CHECK(e.type.bits == c.bits);
      CHECK(e.type.is_signed == c.is_signed);
      CHECK(e.spec.per_word == 32 / c.bits);
      CHECK(e.words == (e.elements + 32 / c.bits - 1) / (32 / c.bits));
      CHECK(read_vector((root / "v").string(), e) == q.constants.at(e.tensor).ints);
      CHECK(e.zero_points == q.weights.at(e.tensor).zero_points);
      const int64_t middle = c.is_signed ? 0 : int64_t{1} << (c.bits - 1);
      if (c.symmetric) CHECK(e.zero_points == std::vector<int64_t>(e.zero_points.size(), middle));
    }
    CHECK(weights == 6);
    CHECK(read_manifest((root / "v").string()).entries.at(0).zero_points.empty());  // the input has none
  }
  fs::remove_all(root);
}
