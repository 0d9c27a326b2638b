#pragma once
// The golden-vector file format (docs/vectors.md), apart from how vectors are computed: the manifest and
// its entries, element encodings and layouts (encoding.hpp, layout.hpp), reading one entry back, and
// checking a directory's files against their manifest by size and SHA-256. Nothing here runs an engine:
// whoever only reads vectors (cosim, fuzzers, testbench tools) links this alone (chipref_vector_format).

#include <string>
#include <vector>

#include "model/tensor.hpp"
#include "vectors/encoding.hpp"
#include "vectors/layout.hpp"

namespace chipref::vectors {

inline constexpr int kManifestVersion = 1;

// A layout for the ops whose names match `pattern` (fnmatch glob), instead of the run's.
struct LayerLayout {
  std::string pattern;
  Layout layout;
  int word_bits = 0;
};

struct Options {
  std::vector<Format> formats = {Format::mem};
  std::string layers = "*";  // glob (fnmatch) over op names: which ops get files
  bool accumulators = true;  // the MAC accumulators before requantization
  Layout layout;             // element order and bit order of every file (docs/vectors.md)
  int word_bits = 0;         // bus width: each file packs ⌊word_bits / element bits⌋ elements a word (0: one)
  std::vector<LayerLayout> layer_layouts;  // per op, the last matching entry wins; its files get a layout tag
  // The engine that computed the tensors (Engine::name: "direct", "systemc"); verify regenerates with
  // the same one. Both give the same integers; an engine with MAC arrays adds their tile streams.
  std::string engine = "direct";
};

// The `layers:` list of a layout YAML file (docs/vectors.md): entries {match, layout, word_bits,
// bit_order}; InputError naming the file, line and column of a bad entry.
std::vector<LayerLayout> load_layer_layouts(const std::string& path);

// Where the inputs came from: recorded so that `verify` can regenerate every file.
struct InputSource {
  // "fashion-mnist" (the first `count` test images), "npy" (`path`) or "data" (`path` is a --data SPEC with
  // absolute paths: its first `count` test inputs, through the IntGraph's preprocessing)
  std::string kind;
  std::string path;
  int64_t count = 0;
  std::string sha256;  // of the float32 input values (both kinds): verify regenerates only from the same inputs
};

struct Entry {
  std::string file;              // relative to the vectors directory
  std::string op, role, tensor;  // the IntGraph op, what the tensor is to it, the tensor's name
  int64_t input = -1;            // the input (image) it belongs to; -1 for a constant
  Shape shape;                   // the tensor's (logical) shape
  ElementType type;              // of one element
  Format format = Format::mem;
  std::string layout;  // "NCHW", "NHWC", "row-major", "tiled RxC over [A, B]"
  Layout spec;         // the same, to decode with
  int64_t stored = 0;  // elements in the file's order, tile padding included
  int64_t words = 0;   // words written (stored / per_word, rounded up)
  double scale = 0;    // real = scale · (code − zero_point); 0 for accumulators and constants
  int64_t zero_point = 0;
  // A MAC layer's weights: the zero point of each output channel (axis 0), or one for the tensor
  // (real = s[c]·(code − zero_points[c])); empty for every other tensor.
  std::vector<int64_t> zero_points;
  // A block-format layer's weight element codes or their shared scale codes (docs/numerics.md §15): the
  // format, the block size, and the tensor holding the other half. Blocks run along the last axis of the
  // codes' shape ([M, KH, KW, C/G] or [M, K]; the last block of each row may be short), one scale each (the
  // scales' shape: the codes' with the last axis in blocks). Empty for every other tensor.
  std::string block_format, block_partner;
  int64_t block_size = 0;
  int64_t elements = 0, bytes = 0;
  std::string sha256;
};

struct Manifest {
  int version = kManifestVersion;
  std::string tool_version, model, model_sha256, config;
  std::string config_sha256;  // of the config file the IntGraph names, where it can be read (else empty)
  InputSource inputs;
  Options options;
  std::vector<Entry> entries;  // per op (execution order), per input, per tensor; files may be shared
};

Manifest read_manifest(const std::string& dir);
// manifest.json's text for `m`: deterministic (fixed key order and formatting).
std::string manifest_text(const Manifest& m);

// One entry's values in the tensor's row-major order (its file decoded, unpacked and reordered);
// VerificationMismatch if the file's hash differs from the manifest.
std::vector<int64_t> read_vector(const std::string& dir, const Entry& entry);
// The words of an entry's file (decoded) as the tensor's row-major values.
std::vector<int64_t> logical_values(const Entry& entry, const std::vector<int64_t>& words);

// Every file of DIR against the manifest: VerificationMismatch if DIR holds a file the manifest does not
// list; otherwise each listed file that is missing, of the wrong size for its shape and format, or of
// another SHA-256, with why, in manifest order.
struct FileCheck {
  struct Problem {
    const Entry* entry;
    std::string why;
  };
  int64_t checked = 0;  // distinct files
  std::vector<Problem> bad;
};
FileCheck check_files(const std::string& dir, const Manifest& manifest);

// "; first differing element 37 [0,2,3,1]: got 0xfd (-3), expected 0x02 (2)", or "" if none differs.
std::string first_difference(const Entry& entry, const std::vector<int64_t>& have, const std::vector<int64_t>& want);

// SHA-256 of an IntGraph directory's graph.json, and of float32 inputs' values: what a manifest records
// so that verify regenerates only from the same model and inputs.
std::string model_hash(const std::string& model_dir);
std::string inputs_hash(const Tensor& inputs);

// "nchw", "nhwc", "tiled": a layout kind as manifests and file names spell it.
const char* layout_kind_name(Layout::Kind kind);

}  // namespace chipref::vectors
