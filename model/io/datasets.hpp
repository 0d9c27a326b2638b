#pragma once
// The user's data, named by one --data SPEC wherever chipref reads inputs (eval, quantize --calib, vectors,
// sweep files): model inputs read a batch at a time, with labels when the source has them. docs/data.md
// lists the sources:
//   fashion-mnist[:train|t10k]          Debian's dataset-fashion-mnist
//   npy:X.npy[,labels=Y.npy]            (a bare X.npy too) float32 or integer inputs as they are; uint8 images
//                                       [N,H,W] or [N,H,W,C] through the preprocessing
//   imagefolder:DIR                     DIR/CLASS/**/*.{jpg,jpeg,png}, classes and files in torchvision's order
//   cifar10:PATH, cifar100:PATH[,label=fine|coarse]
//                                       the binary batches: one .bin, or the folder holding them
//   idx:IMAGES[,labels=LABELS]          IDX files (gzip or plain) of any MNIST-like set

#include <memory>
#include <string>
#include <vector>

#include "model/io/preprocess.hpp"
#include "model/io/samples.hpp"

namespace chipref {

class Dataset : public SampleSource {
 public:
  const std::vector<int64_t>& labels() const { return labels_; }                // empty: the source has none
  const std::vector<std::string>& class_names() const { return class_names_; }  // an image folder's classes
  bool has_labels() const { return !labels_.empty(); }
  // Whether the inputs are images made by the preprocessing (false: .npy inputs taken as they are).
  virtual bool preprocessed() const = 0;

 protected:
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
};

enum class DataSplit { train, test };

struct DataRequest {
  DataSplit split = DataSplit::test;  // which half a source with two means, when the spec does not say
  int64_t limit = 0;                  // the first `limit` inputs; 0: all
  Preprocess preprocess;              // how images become model inputs
  int64_t threads = 1;                // images of a batch decoded and preprocessed side by side
};

// InputError for an unknown kind, a missing or wrong file, a label count that does not match the inputs.
std::unique_ptr<Dataset> open_dataset(const std::string& spec, const DataRequest& request);

// The same SPEC with its paths made absolute, relative ones taken from `base_dir` (default: the working
// directory): recorded in manifests and sweep files, so that a run from elsewhere reads the same files.
std::string absolute_data_spec(const std::string& spec, const std::string& base_dir = "");

// One line per source kind, for --help.
inline constexpr const char* kDataSpecHelp =
    "fashion-mnist[:train|t10k], npy:X.npy[,labels=Y.npy] (or X.npy), imagefolder:DIR, "
    "cifar10:FILE.bin|DIR, cifar100:FILE.bin|DIR[,label=fine|coarse], idx:IMAGES[,labels=LABELS] (docs/data.md)";

}  // namespace chipref
