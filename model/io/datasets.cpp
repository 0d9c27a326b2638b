#include "model/io/datasets.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/parallel.hpp"
#include "model/io/idx.hpp"
#include "model/io/images.hpp"
#include "model/io/npy.hpp"

namespace chipref {

namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// KIND:PATH,key=value,... split into its parts; the options a kind does not take are refused.
struct Spec {
  std::string text, kind, path;
  std::map<std::string, std::string> options;

  std::string option(const std::string& key, const std::string& fallback = "") const {
    const auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
  void allow(const std::vector<std::string>& keys) const {
    for (const auto& [key, value] : options)
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        throw InputError("--data " + text + ": " + kind + " takes no option '" + key + "'" +
                         (keys.empty() ? std::string() : "; it takes: " + YamlReader::join(keys)));
  }
};

Spec parse_spec(const std::string& text) {
  Spec s;
  s.text = text;
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    if (lower(fs::path(text).extension().string()) == ".npy") {
      s.kind = "npy";
      s.path = text;
    } else {
      s.kind = text;
    }
    return s;
  }
  s.kind = text.substr(0, colon);
  std::vector<std::string> parts;  // PATH, then KEY=VALUE options (so a path cannot hold a comma)
  std::stringstream rest(text.substr(colon + 1));
  for (std::string part; std::getline(rest, part, ',');) parts.push_back(part);
  s.path = parts.empty() ? "" : parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("--data " + text + ": option '" + parts[i] + "' is not KEY=VALUE");
    s.options[parts[i].substr(0, eq)] = parts[i].substr(eq + 1);
  }
  if (s.path.empty()) throw InputError("--data " + text + ": no path after '" + s.kind + ":'");
  return s;
}

// Inputs made from 8-bit images by the preprocessing; the shape is the first image's, and every other image
// must come out the same (a resize without a crop keeps the aspect ratio, so mixed sizes differ).
class ImageDataset : public Dataset {
 public:
  const std::string& name() const override { return name_; }
  DType dtype() const override { return DType::float32; }
  Shape shape() const override {
    Shape s{count_};
    s.insert(s.end(), image_shape_.begin(), image_shape_.end());
    return s;
  }
  bool preprocessed() const override { return true; }
  Tensor rows(int64_t first, int64_t n) const override {
    if (first < 0 || n < 0 || first + n > count_)
      throw std::logic_error(name_ + ": rows beyond the first " + std::to_string(count_));
    Shape s{n};
    s.insert(s.end(), image_shape_.begin(), image_shape_.end());
    Tensor out = Tensor::zeros(DType::float32, s);
    const int64_t per_image = element_count(image_shape_);
    // Decoding and resizing dominate a pass over photos; images are independent, so they share the threads.
    for_each_index_in_parallel(n, threads_, [&](int64_t k) {
      const Image image = load(first + k);
      const Shape made = preprocessed_shape(preprocess_, image.height, image.width, image.channels);
      if (made != image_shape_)
        throw InputError(item_name(first + k) + ": " + std::to_string(image.height) + "x" +
                         std::to_string(image.width) + "x" + std::to_string(image.channels) +
                         " pixels become a model input of " + shape_to_string(made) + ", but the first input's is " +
                         shape_to_string(image_shape_) +
                         " (a batch needs one shape: give the preprocessing a center_crop or a resize to [h, w])");
      preprocess_image(image, preprocess_, out.floats.data() + k * per_image, item_name(first + k));
    });
    return out;
  }

 protected:
  virtual Image load(int64_t i) const = 0;
  virtual std::string item_name(int64_t i) const = 0;
  // Called by a subclass once its items are known.
  void finish(std::string name, int64_t count, const DataRequest& request) {
    name_ = std::move(name);
    preprocess_ = request.preprocess;
    threads_ = std::max<int64_t>(request.threads, 1);
    count_ = request.limit > 0 ? std::min(request.limit, count) : count;
    if (!labels_.empty()) labels_.resize(count_);
    if (count_ == 0) throw InputError(name_ + ": no inputs");
    const Image first = load(0);
    image_shape_ = preprocessed_shape(preprocess_, first.height, first.width, first.channels);
  }

 private:
  std::string name_;
  Preprocess preprocess_;
  int64_t threads_ = 1;
  int64_t count_ = 0;
  Shape image_shape_;
};

// Labels in a file beside the inputs (.npy or IDX), checked against the input count.
std::vector<int64_t> read_labels(const Tensor& t, const std::string& path, int64_t inputs,
                                 const std::string& inputs_name) {
  if (t.is_float() || t.rank() != 1)
    throw InputError(path + ": labels must be integers [N]; found " + std::string(to_string(t.dtype)) + " " +
                     shape_to_string(t.shape));
  if (t.shape[0] != inputs)
    throw InputError(path + ": " + std::to_string(t.shape[0]) + " labels for the " + std::to_string(inputs) +
                     " inputs of " + inputs_name);
  for (int64_t i = 0; i < t.shape[0]; ++i)
    if (t.ints[i] < 0)
      throw InputError(path + ": label " + std::to_string(i) + " is " + std::to_string(t.ints[i]) +
                       "; class indices are >= 0");
  return t.ints;
}

// An IDX image file [N, H, W] (or [N, H, W, C]) in memory, as the MNIST family ships.
class IdxDataset final : public ImageDataset {
 public:
  IdxDataset(const std::string& images_path, const std::string& labels_path, const std::string& name,
             const DataRequest& request)
      : path_(images_path) {
    pixels_ = read_idx_bytes(images_path, request.limit);
    if (pixels_.shape.size() != 3 && pixels_.shape.size() != 4)
      throw InputError(images_path + ": IDX images must be [N, H, W] or [N, H, W, C]; found " +
                       shape_to_string(pixels_.shape));
    if (!labels_path.empty()) {
      const Tensor labels = read_idx(labels_path, request.limit);
      labels_ = read_labels(labels, labels_path, pixels_.shape[0], images_path);
    }
    finish(name, pixels_.shape[0], request);
  }

 private:
  Image load(int64_t i) const override { return idx_image(pixels_, i); }
  std::string item_name(int64_t i) const override { return path_ + ": image " + std::to_string(i); }

  std::string path_;
  IdxBytes pixels_;
};

// uint8 images in an .npy, [N, H, W] or [N, H, W, C] as NumPy and PIL hold them.
class NpyImageDataset final : public ImageDataset {
 public:
  NpyImageDataset(const std::string& path, std::vector<int64_t> labels, const DataRequest& request)
      : path_(path), file_(path) {
    const Shape& s = file_.shape();
    if (s.size() != 3 && s.size() != 4)
      throw InputError(path + ": uint8 inputs are images [N, H, W] or [N, H, W, C]; found " + shape_to_string(s));
    labels_ = std::move(labels);
    finish(path, s[0], request);
  }

 private:
  Image load(int64_t i) const override {
    const Shape& s = file_.shape();
    return image_from_codes(file_.rows(i, 1).ints.data(), s[1], s[2], s.size() == 4 ? s[3] : 1);
  }
  std::string item_name(int64_t i) const override { return path_ + ": image " + std::to_string(i); }

  std::string path_;
  NpyRows file_;
};

// .npy inputs that are already model inputs (float32, or integers such as token ids).
class NpyInputDataset final : public Dataset {
 public:
  NpyInputDataset(const std::string& path, std::vector<int64_t> labels, int64_t limit) : samples_(path, limit) {
    labels_ = std::move(labels);
    if (!labels_.empty()) labels_.resize(samples_.count());
  }
  const std::string& name() const override { return samples_.name(); }
  DType dtype() const override { return samples_.dtype(); }
  Shape shape() const override { return samples_.shape(); }
  Tensor rows(int64_t first, int64_t n) const override { return samples_.rows(first, n); }
  bool preprocessed() const override { return false; }

 private:
  NpySamples samples_;
};

// JPEG and PNG files under one folder per class, ordered as torchvision's ImageFolder orders them: classes
// by sorted folder name; in each, the folders os.walk visits sorted by path and the files sorted by name.
class ImageFolderDataset final : public ImageDataset {
 public:
  ImageFolderDataset(const std::string& dir, const DataRequest& request) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw InputError(dir + ": not a folder (imagefolder:DIR needs DIR/CLASS/images)");
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_directory()) class_names_.push_back(entry.path().filename().string());
    std::sort(class_names_.begin(), class_names_.end());
    if (class_names_.empty()) throw InputError(dir + ": no class folders (imagefolder:DIR needs DIR/CLASS/images)");
    for (size_t label = 0; label < class_names_.size(); ++label) {
      const fs::path class_dir = fs::path(dir) / class_names_[label];
      std::map<std::string, std::vector<std::string>> by_folder;  // sorted by path, as sorted(os.walk(...))
      by_folder[class_dir.string()];
      for (auto it = fs::recursive_directory_iterator(class_dir, fs::directory_options::follow_directory_symlink);
           it != fs::recursive_directory_iterator(); ++it)
        if (!it->is_directory()) by_folder[it->path().parent_path().string()].push_back(it->path().filename().string());
      const size_t before = files_.size();
      for (auto& [folder, names] : by_folder) {
        std::sort(names.begin(), names.end());
        for (const std::string& n : names) {
          const std::string ext = lower(fs::path(n).extension().string());
          if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
            files_.push_back(folder + "/" + n);
            labels_.push_back(static_cast<int64_t>(label));
          } else if (ext == ".ppm" || ext == ".bmp" || ext == ".pgm" || ext == ".tif" || ext == ".tiff" ||
                     ext == ".webp") {
            // torchvision would read it, so skipping it would silently change the image set.
            throw InputError(folder + "/" + n + ": a " + ext +
                             " image; chipref decodes JPEG and PNG (convert the folder, or give .npy inputs)");
          }
        }
      }
      if (files_.size() == before)
        throw InputError(class_dir.string() + ": class folder '" + class_names_[label] +
                         "' holds no .jpg, .jpeg or .png file (torchvision's ImageFolder refuses this too)");
    }
    // A folder is sorted by class, so its first N inputs would be the first classes only: a limit takes N
    // spread evenly over the whole folder instead (input k of N is file floor(k * total / N)).
    const auto total = static_cast<int64_t>(files_.size());
    if (request.limit > 0 && request.limit < total) {
      std::vector<std::string> files;
      std::vector<int64_t> labels;
      for (int64_t k = 0; k < request.limit; ++k) {
        const int64_t i = k * total / request.limit;
        files.push_back(files_[i]);
        labels.push_back(labels_[i]);
      }
      files_ = std::move(files);
      labels_ = std::move(labels);
    }
    finish(dir, static_cast<int64_t>(files_.size()), request);
  }

 private:
  Image load(int64_t i) const override { return decode_image_file(files_[i]); }
  std::string item_name(int64_t i) const override { return files_[i]; }

  std::vector<std::string> files_;
};

// CIFAR-10/100's binary batches: records of label byte(s) then 3072 bytes, the red, green and blue 32×32
// planes. Read with pread, so several threads share one descriptor per file.
class CifarDataset final : public ImageDataset {
 public:
  CifarDataset(const Spec& spec, bool hundred, const DataRequest& request) {
    label_bytes_ = hundred ? 2 : 1;
    const std::string label = spec.option("label", "fine");
    if (hundred && label != "fine" && label != "coarse")
      throw InputError("--data " + spec.text + ": label=" + label + "; expected fine or coarse");
    label_offset_ = hundred && label == "fine" ? 1 : 0;
    std::vector<std::string> paths;
    std::error_code ec;
    if (fs::is_directory(spec.path, ec)) {
      std::vector<std::string> names;
      if (hundred)
        names = {request.split == DataSplit::train ? "train.bin" : "test.bin"};
      else if (request.split == DataSplit::test)
        names = {"test_batch.bin"};
      else
        names = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
      for (const std::string& n : names) paths.push_back((fs::path(spec.path) / n).string());
    } else {
      paths.push_back(spec.path);
    }
    const int64_t record = label_bytes_ + kPixels;
    for (const std::string& p : paths) {
      const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw InputError(p + ": cannot open the CIFAR batch: " + std::strerror(errno));
      files_.push_back({p, fd, 0});
      const off_t size = ::lseek(fd, 0, SEEK_END);
      const int64_t other_record = (hundred ? 1 : 2) + kPixels;  // the other CIFAR's
      if (size <= 0 || size % record != 0)
        throw InputError(p + ": " + std::to_string(size) + " bytes is not a whole number of " + std::to_string(record) +
                         "-byte " + spec.kind + " records" +
                         (size > 0 && size % other_record == 0 ? (hundred ? " (it is one of CIFAR-10's: cifar10:)"
                                                                          : " (it is one of CIFAR-100's: cifar100:)")
                                                               : ""));
      files_.back().records = size / record;
    }
    int64_t total = 0;
    for (const File& f : files_) total += f.records;
    const int64_t wanted = request.limit > 0 ? std::min(request.limit, total) : total;
    for (int64_t i = 0; i < wanted; ++i) {
      const auto [file, at] = locate(i);
      unsigned char bytes[2];
      read_at(file, at, bytes, label_bytes_);
      labels_.push_back(bytes[label_offset_]);
    }
    finish(spec.path, total, request);
  }
  ~CifarDataset() override {
    for (const File& f : files_) ::close(f.fd);
  }

 private:
  static constexpr int64_t kSide = 32, kPixels = 3 * kSide * kSide;
  struct File {
    std::string path;
    int fd;
    int64_t records;
  };

  std::pair<const File*, off_t> locate(int64_t i) const {
    for (const File& f : files_) {
      if (i < f.records) return {&f, static_cast<off_t>(i * (label_bytes_ + kPixels))};
      i -= f.records;
    }
    throw std::logic_error("CIFAR record beyond the files");
  }
  static void read_at(const File* f, off_t at, unsigned char* to, int64_t n) {
    if (::pread(f->fd, to, n, at) != n)
      throw InputError(f->path + ": cannot read a record at byte " + std::to_string(at));
  }
  Image load(int64_t i) const override {
    const auto [file, at] = locate(i);
    std::vector<unsigned char> planes(kPixels);
    read_at(file, at + label_bytes_, planes.data(), kPixels);
    Image image{kSide, kSide, 3, std::vector<uint8_t>(kPixels)};
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < kSide * kSide; ++p) image.pixels[p * 3 + c] = planes[c * kSide * kSide + p];
    return image;
  }
  std::string item_name(int64_t i) const override {
    const auto [file, at] = locate(i);
    return file->path + ": record " + std::to_string(at / (label_bytes_ + kPixels));
  }

  std::vector<File> files_;
  int64_t label_bytes_ = 1, label_offset_ = 0;
};

}  // namespace

std::string absolute_data_spec(const std::string& text, const std::string& base_dir) {
  const Spec spec = parse_spec(text);
  if (spec.kind == "fashion-mnist") return text;
  if (spec.kind != "npy" && spec.kind != "imagefolder" && spec.kind != "cifar10" && spec.kind != "cifar100" &&
      spec.kind != "idx")
    throw InputError("--data " + text + ": unknown data source '" + spec.kind + "'; expected " + kDataSpecHelp);
  const auto absolute = [&](const std::string& path) {
    return base_dir.empty() ? fs::absolute(path).string() : fs::absolute(fs::path(base_dir) / path).string();
  };
  std::string out = spec.kind + ":" + absolute(spec.path);
  for (const auto& [key, value] : spec.options) out += "," + key + "=" + (key == "labels" ? absolute(value) : value);
  return out;
}

std::unique_ptr<Dataset> open_dataset(const std::string& text, const DataRequest& request) {
  const Spec spec = parse_spec(text);
  if (spec.kind == "fashion-mnist") {
    spec.allow({});
    std::string split = spec.path.empty() ? (request.split == DataSplit::train ? "train" : "t10k") : spec.path;
    if (split == "test") split = "t10k";
    if (split != "train" && split != "t10k")
      throw InputError("--data " + text + ": Fashion-MNIST's splits are train and t10k");
    const std::string dir = kFashionMnistDir;
    return std::make_unique<IdxDataset>(dir + "/" + split + "-images-idx3-ubyte.gz",
                                        dir + "/" + split + "-labels-idx1-ubyte.gz", "Fashion-MNIST " + split, request);
  }
  if (spec.kind == "npy") {
    spec.allow({"labels"});
    const NpyRows probe(spec.path);
    std::vector<int64_t> labels;
    if (!spec.option("labels").empty())
      labels = read_labels(read_npy(spec.option("labels")), spec.option("labels"), probe.shape().at(0), spec.path);
    if (probe.dtype() == DType::uint8) return std::make_unique<NpyImageDataset>(spec.path, std::move(labels), request);
    return std::make_unique<NpyInputDataset>(spec.path, std::move(labels), request.limit);
  }
  if (spec.kind == "imagefolder") {
    spec.allow({});
    return std::make_unique<ImageFolderDataset>(spec.path, request);
  }
  if (spec.kind == "cifar10" || spec.kind == "cifar100") {
    spec.allow(spec.kind == "cifar100" ? std::vector<std::string>{"label"} : std::vector<std::string>{});
    return std::make_unique<CifarDataset>(spec, spec.kind == "cifar100", request);
  }
  if (spec.kind == "idx") {
    spec.allow({"labels"});
    return std::make_unique<IdxDataset>(spec.path, spec.option("labels"), spec.path, request);
  }
  throw InputError("--data " + text + ": unknown data source '" + spec.kind + "'; expected " + kDataSpecHelp);
}

}  // namespace chipref
