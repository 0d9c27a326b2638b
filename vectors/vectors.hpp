#pragma once
// Golden vectors (docs/vectors.md): for every op of an IntGraph and every input, the integer tensors it
// reads and writes — activations, weights (dense and, for N:M layers, the compressed values and index
// words), biases, requantization multipliers and shifts, tables, accumulators before requantization,
// outputs — as files testbenches load, described by manifest.json. Deterministic: the same IntGraph,
// inputs and options give a byte-identical directory. The directory is written whole beside its target
// and swapped in as the last step (core/staged_output.hpp): an interrupted run leaves the earlier
// vectors as they were, and no file of an earlier run survives beside a new manifest.

#include <string>
#include <vector>

#include "model/int_graph.hpp"
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
  std::string layers = "*";   // glob (fnmatch) over op names: which ops get files
  bool accumulators = true;   // the MAC accumulators before requantization
  Layout layout;              // element order and bit order of every file (docs/vectors.md)
  int word_bits = 0;          // bus width: each file packs ⌊word_bits / element bits⌋ elements a word (0: one)
  std::vector<LayerLayout> layer_layouts;  // per op, the last matching entry wins; its files get a layout tag
  // Which engine computes the tensors: "direct" or "systemc" (every module's output stream, from the
  // netlist's run; the same bytes, since both engines give the same integers).
  std::string engine = "direct";
};

// The `layers:` list of a layout YAML file (docs/vectors.md): entries {match, layout, word_bits,
// bit_order}; InputError naming the file, line and column of a bad entry.
std::vector<LayerLayout> load_layer_layouts(const std::string& path);

// Where the inputs came from: recorded so that `verify` can regenerate every file.
struct InputSource {
  std::string kind;  // "fashion-mnist" (the first `count` test images) or "npy" (`path`)
  std::string path;
  int64_t count = 0;
  std::string sha256;  // of the float32 input values (both kinds): verify regenerates only from the same inputs
};

struct Entry {
  std::string file;               // relative to the vectors directory
  std::string op, role, tensor;   // the IntGraph op, what the tensor is to it, the tensor's name
  int64_t input = -1;             // the input (image) it belongs to; -1 for a constant
  Shape shape;                    // the tensor's (logical) shape
  ElementType type;               // of one element
  Format format = Format::mem;
  std::string layout;             // "NCHW", "NHWC", "row-major", "tiled RxC over [A, B]"
  Layout spec;                    // the same, to decode with
  int64_t stored = 0;             // elements in the file's order, tile padding included
  int64_t words = 0;              // words written (stored / per_word, rounded up)
  double scale = 0;               // real = scale · (code − zero_point); 0 for accumulators and constants
  int64_t zero_point = 0;
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

// `model_dir` is the IntGraph's directory (hashed into the manifest); `inputs` float [N, ...] as the
// graph's input, already normalised.
Manifest write_vectors(const IntGraph& graph, const std::string& model_dir, const Tensor& inputs, const InputSource& source,
                       const std::string& dir, const Options& options);

Manifest read_manifest(const std::string& dir);

// One entry's values in the tensor's row-major order (its file decoded, unpacked and reordered);
// VerificationMismatch if the file's hash differs from the manifest.
std::vector<int64_t> read_vector(const std::string& dir, const Entry& entry);
// The words of an entry's file (decoded) as the tensor's row-major values.
std::vector<int64_t> logical_values(const Entry& entry, const std::vector<int64_t>& words);

// Checks that DIR holds no file the manifest does not list, re-hashes every file and checks its size
// against its shape; where a file differs, regenerates it from the model and inputs the manifest names
// to point at the first differing element (index, coordinates, got/expected in hex and decimal).
// Throws VerificationMismatch naming the file (and element) on any difference; returns the files checked.
int64_t verify_vectors(const std::string& dir);

}  // namespace chipref::vectors
