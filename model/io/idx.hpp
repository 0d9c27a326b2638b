#pragma once
// Fashion-MNIST (and MNIST) IDX files, gzip-compressed or plain, read with zlib.

#include <string>

#include "model/io/preprocess.hpp"
#include "model/tensor.hpp"

namespace chipref {

// An IDX file as a uint8 tensor (the only element type the MNIST family uses). Errors name the file
// and what is wrong (bad magic, truncated data, a size that does not match the header). With
// `max_records` > 0 only the first that many records (rows of the first dimension) are decompressed
// and returned, and only they must be present: 200 training images cost 200 images, not 60000.
Tensor read_idx(const std::string& path, int64_t max_records = 0);

// The same file's bytes as they are (one byte per element, 8 times smaller than a tensor's int64 codes):
// what image sources keep in memory and turn into images a batch at a time.
struct IdxBytes {
  Shape shape;
  std::string bytes;
};
IdxBytes read_idx_bytes(const std::string& path, int64_t max_records = 0);

// Record `i` of an IDX image file [N, H, W] or [N, H, W, C] as an HWC image.
Image idx_image(const IdxBytes& idx, int64_t i);

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct LabelledImages {
  Tensor images;  // float32 [N, 1, 28, 28] (or as the preprocessing makes them)
  std::vector<int64_t> labels;
};

// `split` is "train" or "t10k"; `limit` 0 means all. `dir` defaults to Debian's dataset-fashion-mnist.
LabelledImages load_fashion_mnist(const std::string& split, int64_t limit, const Preprocess& preprocess,
                                  const std::string& dir = kFashionMnistDir);

}  // namespace chipref
