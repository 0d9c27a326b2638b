#pragma once
// Golden vectors (docs/vectors.md): for every op of an IntGraph and every input, the integer tensors it
// reads and writes — activations, weights (dense and, for N:M layers, the compressed values and index
// words), biases, requantization multipliers and shifts, tables, accumulators before requantization,
// outputs — as files testbenches load, described by manifest.json (the format: manifest.hpp). Computed
// by whichever Engine the caller gives. Deterministic: the same IntGraph, inputs, options and engine give
// a byte-identical directory. The directory is written whole beside its target and swapped in as the
// last step (core/staged_output.hpp): an interrupted run leaves the earlier vectors as they were, and no
// file of an earlier run survives beside a new manifest.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/int_graph.hpp"
#include "sim/engine.hpp"
#include "vectors/manifest.hpp"

namespace chipref::vectors {

// What a manifest records of the first `count` inputs of a --data SPEC: the "fashion-mnist" kind for
// Debian's set (what manifests said before --data took other sources), else "data" with the spec's paths
// made absolute, so that verify reads the same files from anywhere.
InputSource data_input_source(const std::string& spec, int64_t count);

// `model_dir` is the IntGraph's directory (hashed into the manifest); `inputs` float [N, ...] as the
// graph's input, already normalised; `engine` runs `graph` (its name goes into the manifest). With
// jobs > 1 and an engine that runs concurrently (the DirectEngine), that many inputs run at a time, each
// traced on its own: the files are byte-identical to one job's.
Manifest write_vectors(const IntGraph& graph, const std::string& model_dir, const Tensor& inputs,
                       const InputSource& source, const std::string& dir, Options options, Engine& engine,
                       int jobs = 1);

// Builds the engine a manifest names ("direct", "systemc") over a graph, to regenerate vectors with.
using EngineMaker = std::function<std::unique_ptr<Engine>(const IntGraph& graph, const std::string& engine_name)>;

// Checks that DIR holds no file the manifest does not list, re-hashes every file and checks its size
// against its shape (check_files); where a file differs, regenerates it from the model and inputs the
// manifest names, with the engine it names, to point at the first differing element (index,
// coordinates, got/expected in hex and decimal). Throws VerificationMismatch naming the file (and
// element) on any difference; returns the files checked.
int64_t verify_vectors(const std::string& dir, const EngineMaker& make_engine);

}  // namespace chipref::vectors
