#pragma once
// How a model's input is made from an image, declared as a pipeline (YAML in, JSON in graph.json and the
// sweep cache key) and applied the way torchvision's Resize, CenterCrop, ToTensor and Normalize apply it to
// a PIL image, to the bit: the resize is PIL's antialiased bilinear resampling in its own fixed point, the
// crop rounds its offset half to even as Python's round() does, and the float steps are the same float32
// operations in the same order. docs/data.md states it step by step.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/shape.hpp"
#include "core/yaml_reader.hpp"

namespace chipref {

// 8-bit pixels, rows of interleaved channels (HWC), as decoders and the uint8 datasets give them.
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels
};

// One image of a uint8 array held as int64 codes (an .npy record): height × width × channels values, HWC.
Image image_from_codes(const int64_t* codes, int64_t height, int64_t width, int64_t channels);

struct Normalisation {  // one mean/std for every channel: a model's sidecar YAML, --mean/--std
  float mean = 0.0f, std = 1.0f;
};

struct Preprocess {
  int64_t resize_shorter = 0;                   // the shorter side becomes this many pixels (torchvision Resize(n))
  int64_t resize_height = 0, resize_width = 0;  // or exactly this size (Resize((h, w))); 0: no resize
  int64_t crop_height = 0, crop_width = 0;      // a center crop; 0: none
  bool scale_to_unit = true;                    // pixel / 255 (ToTensor); false keeps 0..255
  std::vector<float> mean{0.0f}, std{1.0f};     // one value, or one per channel (in the output's channel order)
  bool bgr = false;                             // reverse RGB to BGR
  bool nhwc = false;                            // the model's layout; NCHW otherwise

  Preprocess() = default;
  Preprocess(const Normalisation& n) : mean{n.mean}, std{n.std} {}  // NOLINT: every scalar pair is a pipeline
  bool operator==(const Preprocess& o) const;
  bool operator!=(const Preprocess& o) const { return !(*this == o); }
  bool normalises() const;       // some mean other than 0 or std other than 1
  std::string describe() const;  // one line for messages and reports
};

// The keys of a preprocessing mapping, for messages and docs.
inline const std::vector<std::string> kPreprocessKeys{"resize", "center_crop",   "scale", "mean",
                                                      "std",    "channel_order", "layout"};

// A preprocessing mapping (keys kPreprocessKeys; errors at FILE:LINE:COLUMN).
Preprocess parse_preprocess(const YAML::Node& node, const YamlReader& r);
// A --preprocess file: the mapping at the top, or under a top-level `preprocess:` key.
Preprocess read_preprocess_file(const std::string& path);

nlohmann::json preprocess_to_json(const Preprocess& p);
// graph.json's "preprocess" (also the scalar {"mean", "std"} of IntGraphs written before pipelines).
Preprocess preprocess_from_json(const nlohmann::json& j, const std::string& what);

// PIL's Image.resize(size, Image.BILINEAR) on 8-bit pixels: separable triangle filter widened by the
// downscale factor (antialiasing), horizontal pass first, coefficients in 22-bit fixed point, each pass
// rounded and clamped to 8 bits.
Image resize_bilinear(const Image& in, int64_t height, int64_t width);
// torchvision's Resize(size) size rule: the shorter side becomes `shorter`, the longer int(shorter * long /
// short) (truncated), so a square stays square.
std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width, int64_t shorter);
// torchvision's CenterCrop: offsets round((size - crop) / 2) half to even; zero padding where the image is
// smaller than the crop, as torchvision pads.
Image center_crop(const Image& in, int64_t height, int64_t width);

// The model input's shape for one image of `channels` channels that is height × width after resize and crop.
Shape preprocessed_shape(const Preprocess& p, int64_t height, int64_t width, int64_t channels);
// Resize, crop, then the float steps into `out` (the preprocessed_shape's elements). InputError naming
// `what` when mean/std have neither 1 nor `channels` values.
void preprocess_image(const Image& in, const Preprocess& p, float* out, const std::string& what);
// The float steps alone on one 8-bit value of channel c (after any BGR reversal).
float preprocess_value(uint8_t v, int64_t c, const Preprocess& p);

}  // namespace chipref
