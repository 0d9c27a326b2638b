#pragma once
// Model inputs [N, ...] as a source of rows read when a batch needs them, so that calibration and the
// other passes over many inputs hold one batch at a time, not all N.

#include <memory>
#include <string>

#include "model/io/npy.hpp"
#include "model/tensor.hpp"

namespace chipref {

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual const std::string& name() const = 0;  // for messages: the file, or what the inputs are
  virtual DType dtype() const = 0;
  virtual Shape shape() const = 0;  // N first
  int64_t count() const { return shape().at(0); }
  // Rows [first, first + n); safe to call from several threads.
  virtual Tensor rows(int64_t first, int64_t n) const = 0;
};

// How many rows of inputs shaped `shape` (N first) one batch takes in a pass over many inputs: at most
// `most`, and at most 4 MiB of input, so that what a batch keeps alive (its input and the intermediates a
// run holds, a small multiple of the input for the CNNs and transformers of the zoo) stays bounded whatever
// the input size. At least 1.
int64_t rows_per_batch(const Shape& shape, DType dtype, int64_t most);

// Rows of a tensor in memory (not copied: it must outlive the source).
class TensorSamples final : public SampleSource {
 public:
  TensorSamples(const Tensor& all, std::string name) : all_(all), name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  DType dtype() const override { return all_.dtype; }
  Shape shape() const override { return all_.shape; }
  Tensor rows(int64_t first, int64_t n) const override { return rows_of(all_, first, n); }

 private:
  const Tensor& all_;
  std::string name_;
};

// The first `limit` rows (all when limit <= 0) of an .npy file, read from the file batch by batch.
class NpySamples final : public SampleSource {
 public:
  NpySamples(const std::string& path, int64_t limit);
  const std::string& name() const override { return path_; }
  DType dtype() const override { return file_.dtype(); }
  Shape shape() const override;
  Tensor rows(int64_t first, int64_t n) const override;

 private:
  std::string path_;
  NpyRows file_;
  int64_t count_;
};

}  // namespace chipref
