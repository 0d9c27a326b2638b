#include "model/io/preprocess.hpp"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <sstream>

#include "core/error.hpp"

namespace chipref {

bool Preprocess::operator==(const Preprocess& o) const {
  return resize_shorter == o.resize_shorter && resize_height == o.resize_height && resize_width == o.resize_width &&
         crop_height == o.crop_height && crop_width == o.crop_width && scale_to_unit == o.scale_to_unit &&
         mean == o.mean && std == o.std && bgr == o.bgr && nhwc == o.nhwc;
}

bool Preprocess::normalises() const {
  return std::any_of(mean.begin(), mean.end(), [](float m) { return m != 0.0f; }) ||
         std::any_of(std.begin(), std.end(), [](float s) { return s != 1.0f; });
}

namespace {

std::string list_text(const std::vector<float>& v) {
  std::ostringstream s;
  if (v.size() == 1) {
    s << v[0];
    return s.str();
  }
  s << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

// The old graph.json form, kept for the pipeline every IntGraph had before resize and crop existed.
bool is_scalar_normalisation(const Preprocess& p) {
  return p.resize_shorter == 0 && p.resize_height == 0 && p.crop_height == 0 && p.scale_to_unit && !p.bgr && !p.nhwc &&
         p.mean.size() == 1 && p.std.size() == 1;
}

void check_normalisation(const std::vector<float>& mean, const std::vector<float>& std, const std::string& what) {
  if (mean.empty() || std.empty()) throw InputError(what + ": mean and std need at least one value");
  for (const float m : mean)
    if (!std::isfinite(m)) throw InputError(what + ": mean " + list_text(mean) + " must be finite");
  for (const float s : std)
    if (!std::isfinite(s) || !(s > 0)) throw InputError(what + ": std " + list_text(std) + " must be finite and > 0");
}

}  // namespace

std::string Preprocess::describe() const {
  std::ostringstream s;
  if (resize_shorter) s << "resize shorter side " << resize_shorter << ", ";
  if (resize_height) s << "resize " << resize_height << "x" << resize_width << ", ";
  if (crop_height) s << "center crop " << crop_height << "x" << crop_width << ", ";
  s << (scale_to_unit ? "/255, " : "") << "mean " << list_text(mean) << " std " << list_text(std);
  if (bgr) s << ", BGR";
  if (nhwc) s << ", NHWC";
  return s.str();
}

Preprocess parse_preprocess(const YAML::Node& node, const YamlReader& r) {
  r.expect_map(node, "preprocess", kPreprocessKeys);
  Preprocess p;
  const auto size_pair = [&](const YAML::Node& n, const std::string& key, int64_t& h, int64_t& w) {
    if (n.IsSequence()) {
      if (n.size() != 2) r.fail(n, "'" + key + "' must be one size or [height, width]");
      h = r.integer(n[0], key, 1, 1 << 16);
      w = r.integer(n[1], key, 1, 1 << 16);
    } else {
      h = w = r.integer(n, key, 1, 1 << 16);
    }
  };
  const auto numbers = [&](const YAML::Node& n, const std::string& key, double lo) {
    std::vector<float> v;
    if (n.IsSequence()) {
      if (n.size() == 0) r.fail(n, "'" + key + "' must be a number or a list of one per channel");
      for (const YAML::Node& x : n) v.push_back(static_cast<float>(r.number(x, key, lo, 1e30)));
    } else {
      v.push_back(static_cast<float>(r.number(n, key, lo, 1e30)));
    }
    return v;
  };
  if (const YAML::Node n = node["resize"]) {
    if (n.IsSequence())
      size_pair(n, "resize", p.resize_height, p.resize_width);
    else
      p.resize_shorter = r.integer(n, "resize", 1, 1 << 16);
  }
  if (const YAML::Node n = node["center_crop"]) size_pair(n, "center_crop", p.crop_height, p.crop_width);
  if (const YAML::Node n = node["scale"]) p.scale_to_unit = r.boolean(n, "scale");
  if (const YAML::Node n = node["mean"]) p.mean = numbers(n, "mean", -1e30);
  if (const YAML::Node n = node["std"]) {
    p.std = numbers(n, "std", 0);
    for (const float s : p.std)
      if (!(s > 0)) r.fail(n, "'std' must be > 0");
  }
  if (const YAML::Node n = node["channel_order"]) p.bgr = r.choice(n, "channel_order", {"rgb", "bgr"}) == "bgr";
  if (const YAML::Node n = node["layout"]) p.nhwc = r.choice(n, "layout", {"nchw", "nhwc"}) == "nhwc";
  if (p.mean.size() > 1 && p.std.size() > 1 && p.mean.size() != p.std.size())
    r.fail(node, "mean has " + std::to_string(p.mean.size()) + " values and std " + std::to_string(p.std.size()) +
                     "; give one value, or one per channel, for each");
  return p;
}

Preprocess read_preprocess_file(const std::string& path) {
  const YAML::Node root = load_yaml_file(path, "preprocessing file");
  return read_yaml_document(path, [&] {
    const YamlReader r(path);
    if (!root.IsMap())
      r.fail(root, "a preprocessing file is a mapping with keys: " + YamlReader::join(kPreprocessKeys));
    if (root["preprocess"] && root.size() == 1) return parse_preprocess(root["preprocess"], r);
    return parse_preprocess(root, r);
  });
}

nlohmann::json preprocess_to_json(const Preprocess& p) {
  const auto floats = [](const std::vector<float>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const float x : v) a.push_back(static_cast<double>(x));
    return a;
  };
  if (is_scalar_normalisation(p))
    return {{"mean", static_cast<double>(p.mean[0])}, {"std", static_cast<double>(p.std[0])}};
  nlohmann::json j{{"scale", p.scale_to_unit},
                   {"mean", floats(p.mean)},
                   {"std", floats(p.std)},
                   {"channel_order", p.bgr ? "bgr" : "rgb"},
                   {"layout", p.nhwc ? "nhwc" : "nchw"}};
  if (p.resize_shorter) j["resize"] = p.resize_shorter;
  if (p.resize_height) j["resize"] = {p.resize_height, p.resize_width};
  if (p.crop_height) j["center_crop"] = {p.crop_height, p.crop_width};
  return j;
}

Preprocess preprocess_from_json(const nlohmann::json& j, const std::string& what) {
  Preprocess p;
  const auto fail = [&](const std::string& why) -> void { throw InputError(what + ": " + why); };
  if (!j.is_object()) fail("expected an object");
  const auto floats = [&](const char* key) {
    std::vector<float> v;
    const nlohmann::json& x = j.at(key);
    if (x.is_number()) {
      v.push_back(x.get<float>());
    } else if (x.is_array()) {
      for (const auto& e : x) {
        if (!e.is_number()) fail(std::string(key) + " must hold numbers");
        v.push_back(e.get<float>());
      }
    } else {
      fail(std::string(key) + " must be a number or a list of numbers");
    }
    return v;
  };
  const auto size = [&](const nlohmann::json& x, const char* key) {
    if (!x.is_number_integer() || x.get<int64_t>() < 1 || x.get<int64_t>() > (1 << 16))
      fail(std::string(key) + " must hold sizes in 1..65536");
    return x.get<int64_t>();
  };
  for (const auto& [key, value] : j.items())
    if (std::find(kPreprocessKeys.begin(), kPreprocessKeys.end(), key) == kPreprocessKeys.end())
      fail("unknown key '" + key + "'");
  if (!j.contains("mean") || !j.contains("std")) fail("mean and std are required");
  p.mean = floats("mean");
  p.std = floats("std");
  check_normalisation(p.mean, p.std, what);
  if (j.contains("resize")) {
    const nlohmann::json& r = j["resize"];
    if (r.is_array() && r.size() == 2) {
      p.resize_height = size(r[0], "resize");
      p.resize_width = size(r[1], "resize");
    } else {
      p.resize_shorter = size(r, "resize");
    }
  }
  if (j.contains("center_crop")) {
    const nlohmann::json& c = j["center_crop"];
    if (!c.is_array() || c.size() != 2) fail("center_crop must be [height, width]");
    p.crop_height = size(c[0], "center_crop");
    p.crop_width = size(c[1], "center_crop");
  }
  if (j.contains("scale")) {
    if (!j["scale"].is_boolean()) fail("scale must be true or false");
    p.scale_to_unit = j["scale"].get<bool>();
  }
  const auto choice = [&](const char* key, const char* a, const char* b) {
    if (!j.contains(key)) return false;
    const nlohmann::json& v = j[key];
    if (!v.is_string() || (v.get<std::string>() != a && v.get<std::string>() != b))
      fail(std::string(key) + " must be '" + a + "' or '" + b + "'");
    return v.get<std::string>() == b;
  };
  p.bgr = choice("channel_order", "rgb", "bgr");
  p.nhwc = choice("layout", "nchw", "nhwc");
  return p;
}

namespace {

// PIL's fixed point for 8-bit resampling: coefficients scaled by 2^22, so that 8-bit pixels times a
// kernel summing to 1 stay inside int32 with two bits of headroom.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
  int64_t taps = 0;                   // per output pixel (PIL's ksize)
  std::vector<int64_t> first, count;  // per output pixel: the first input pixel and how many are read
  std::vector<int32_t> weights;       // taps per output pixel, fixed point
};

// PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter over the whole image.
Coefficients bilinear_coefficients(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(static_cast<float>(in_size)) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  Coefficients c;
  c.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(out_size * c.taps, 0);
  std::vector<double> k(c.taps);
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    const double inverse = 1.0 / filter_scale;
    int64_t lo = static_cast<int64_t>(center - support + 0.5);  // C's truncating conversion, as PIL's (int)
    lo = std::max<int64_t>(lo, 0);
    int64_t hi = static_cast<int64_t>(center + support + 0.5);
    hi = std::min(hi, in_size) - lo;
    double sum = 0.0;
    std::fill(k.begin(), k.end(), 0.0);
    for (int64_t x = 0; x < hi; ++x) {
      double t = (static_cast<double>(x + lo) - center + 0.5) * inverse;
      t = t < 0.0 ? -t : t;
      k[x] = t < 1.0 ? 1.0 - t : 0.0;
      sum += k[x];
    }
    for (int64_t x = 0; x < hi; ++x)
      if (sum != 0.0) k[x] /= sum;
    for (int64_t x = 0; x < c.taps; ++x) {
      const double fixed = k[x] * static_cast<double>(1 << kPrecisionBits);
      c.weights[xx * c.taps + x] = static_cast<int32_t>(k[x] < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    c.first[xx] = lo;
    c.count[xx] = hi;
  }
  return c;
}

uint8_t clip8(int32_t acc) {  // PIL's clip8: the arithmetic shift's floor, clamped to 0..255
  return static_cast<uint8_t>(std::clamp(acc >> kPrecisionBits, 0, 255));
}

}  // namespace

Image image_from_codes(const int64_t* codes, int64_t height, int64_t width, int64_t channels) {
  Image image{height, width, channels, std::vector<uint8_t>(height * width * channels)};
  std::transform(codes, codes + image.pixels.size(), image.pixels.begin(),
                 [](int64_t v) { return static_cast<uint8_t>(v); });
  return image;
}

Image resize_bilinear(const Image& in, int64_t height, int64_t width) {
  if (height < 1 || width < 1) throw InputError("resize to " + std::to_string(height) + "x" + std::to_string(width));
  if (height == in.height && width == in.width) return in;
  const int64_t ch = in.channels;
  const Coefficients horizontal = bilinear_coefficients(in.width, width);
  Coefficients vertical = bilinear_coefficients(in.height, height);
  const Image* source = &in;  // the vertical pass reads the horizontal pass's result, or the input itself
  Image across;
  if (width != in.width) {  // PIL's horizontal pass covers only the rows the vertical pass reads
    const int64_t row_first = vertical.first.front();
    const int64_t row_last = vertical.first.back() + vertical.count.back();
    for (int64_t& f : vertical.first) f -= row_first;
    across = Image{row_last - row_first, width, ch, std::vector<uint8_t>((row_last - row_first) * width * ch)};
    for (int64_t y = 0; y < across.height; ++y) {
      const uint8_t* row = in.pixels.data() + (y + row_first) * in.width * ch;
      for (int64_t xx = 0; xx < width; ++xx) {
        const int32_t* k = horizontal.weights.data() + xx * horizontal.taps;
        for (int64_t c = 0; c < ch; ++c) {
          int32_t acc = 1 << (kPrecisionBits - 1);
          for (int64_t x = 0; x < horizontal.count[xx]; ++x)
            acc += static_cast<int32_t>(row[(x + horizontal.first[xx]) * ch + c]) * k[x];
          across.pixels[(y * width + xx) * ch + c] = clip8(acc);
        }
      }
    }
    source = &across;
  }
  if (height == in.height) return across;  // width differed, so the horizontal pass ran
  Image out{height, source->width, ch, {}};
  out.pixels.resize(height * source->width * ch);
  const int64_t stride = source->width * ch;
  for (int64_t yy = 0; yy < height; ++yy) {
    const int32_t* k = vertical.weights.data() + yy * vertical.taps;
    for (int64_t i = 0; i < stride; ++i) {
      int32_t acc = 1 << (kPrecisionBits - 1);
      for (int64_t y = 0; y < vertical.count[yy]; ++y)
        acc += static_cast<int32_t>(source->pixels[(y + vertical.first[yy]) * stride + i]) * k[y];
      out.pixels[yy * stride + i] = clip8(acc);
    }
  }
  return out;
}

std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width, int64_t shorter) {
  const int64_t short_side = std::min(height, width), long_side = std::max(height, width);
  // Python's int(n * long / short): the exact product, one correctly rounded division, truncated.
  const auto longer = static_cast<int64_t>(static_cast<double>(shorter * long_side) / static_cast<double>(short_side));
  return width <= height ? std::pair{longer, shorter} : std::pair{shorter, longer};
}

Image center_crop(const Image& in, int64_t height, int64_t width) {
  const int64_t ch = in.channels;
  // torchvision pads (with zeros) a side smaller than the crop first: (crop - size) // 2 before, the rest after.
  const int64_t pad_top = height > in.height ? (height - in.height) / 2 : 0;
  const int64_t pad_left = width > in.width ? (width - in.width) / 2 : 0;
  const int64_t padded_h = std::max(height, in.height), padded_w = std::max(width, in.width);
  // round((size - crop) / 2.0) with Python's half-to-even rounding (the default rounding mode's nearbyint).
  const auto offset = [](int64_t size, int64_t crop) {
    return static_cast<int64_t>(std::nearbyint(static_cast<double>(size - crop) / 2.0));
  };
  const int64_t top = offset(padded_h, height) - pad_top, left = offset(padded_w, width) - pad_left;
  Image out{height, width, ch, std::vector<uint8_t>(height * width * ch, 0)};
  for (int64_t y = 0; y < height; ++y) {
    const int64_t sy = y + top;
    if (sy < 0 || sy >= in.height) continue;
    for (int64_t x = 0; x < width; ++x) {
      const int64_t sx = x + left;
      if (sx < 0 || sx >= in.width) continue;
      std::copy_n(in.pixels.data() + (sy * in.width + sx) * ch, ch, out.pixels.data() + (y * width + x) * ch);
    }
  }
  return out;
}

Shape preprocessed_shape(const Preprocess& p, int64_t height, int64_t width, int64_t channels) {
  if (p.resize_shorter) std::tie(height, width) = resized_size(height, width, p.resize_shorter);
  if (p.resize_height) std::tie(height, width) = std::pair{p.resize_height, p.resize_width};
  if (p.crop_height) std::tie(height, width) = std::pair{p.crop_height, p.crop_width};
  return p.nhwc ? Shape{height, width, channels} : Shape{channels, height, width};
}

float preprocess_value(uint8_t v, int64_t c, const Preprocess& p) {
  float x = static_cast<float>(v);
  if (p.scale_to_unit) x = x / 255.0f;
  const float mean = p.mean.size() == 1 ? p.mean[0] : p.mean[c];
  const float std = p.std.size() == 1 ? p.std[0] : p.std[c];
  return (x - mean) / std;
}

void preprocess_image(const Image& in, const Preprocess& p, float* out, const std::string& what) {
  const int64_t ch = in.channels;
  for (const auto* v : {&p.mean, &p.std})
    if (v->size() != 1 && static_cast<int64_t>(v->size()) != ch)
      throw InputError(what + ": the preprocessing's " + (v == &p.mean ? "mean" : "std") + " has " +
                       std::to_string(v->size()) + " values; the image has " + std::to_string(ch) +
                       " channels (give one value, or one per channel)");
  const Image* image = &in;  // the input itself when no step changes it: no copy per image
  Image made;
  if (p.resize_shorter) {
    const auto [h, w] = resized_size(in.height, in.width, p.resize_shorter);
    made = resize_bilinear(in, h, w);
    image = &made;
  }
  if (p.resize_height) {
    made = resize_bilinear(*image, p.resize_height, p.resize_width);
    image = &made;
  }
  if (p.crop_height) {
    made = center_crop(*image, p.crop_height, p.crop_width);
    image = &made;
  }
  const int64_t hw = image->height * image->width;
  for (int64_t i = 0; i < hw; ++i)
    for (int64_t c = 0; c < ch; ++c) {
      const int64_t source = p.bgr ? ch - 1 - c : c;
      const float v = preprocess_value(image->pixels[i * ch + source], c, p);
      out[p.nhwc ? i * ch + c : c * hw + i] = v;
    }
}

}  // namespace chipref
