#include "model/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/error.hpp"

namespace chipref {

namespace {
// gzread reads gzip and plain files alike.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb"), gzclose) {
    if (!file_) throw InputError(path + ": cannot open file: " + std::strerror(errno));
  }
  // The next `n` bytes, fewer only where the data ends.
  std::string read(size_t n) {
    std::string data;
    char buf[1 << 16];
    while (data.size() < n) {
      const int got = gzread(file_.get(), buf, static_cast<unsigned>(std::min(sizeof buf, n - data.size())));
      if (got < 0) {
        int code = 0;
        throw InputError(path_ + ": corrupt gzip data: " + gzerror(file_.get(), &code));
      }
      if (got == 0) break;
      data.append(buf, static_cast<size_t>(got));
    }
    return data;
  }

 private:
  std::string path_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file_;
};

uint32_t big_endian_u32(const std::string& d, size_t at) {
  return (uint32_t(uint8_t(d[at])) << 24) | (uint32_t(uint8_t(d[at + 1])) << 16) | (uint32_t(uint8_t(d[at + 2])) << 8) |
         uint32_t(uint8_t(d[at + 3]));
}
}  // namespace

IdxBytes read_idx_bytes(const std::string& path, int64_t max_records) {
  GzReader file(path);
  const std::string magic = file.read(4);
  if (magic.size() < 4 || magic[0] != 0 || magic[1] != 0)
    throw InputError(path + ": not an IDX file (expected the magic bytes 00 00 <type> <rank>)");
  if (uint8_t(magic[2]) != 0x08)
    throw InputError(path + ": IDX element type 0x" + std::to_string(uint8_t(magic[2])) +
                     " is not supported; expected 0x08 (unsigned byte)");
  const size_t rank = uint8_t(magic[3]);
  if (rank == 0 || rank > 4)
    throw InputError(path + ": IDX rank " + std::to_string(rank) + " is not supported; expected 1..4");
  const std::string dims = file.read(4 * rank);
  if (dims.size() < 4 * rank) throw InputError(path + ": truncated IDX header");
  Shape shape;
  uint64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    shape.push_back(big_endian_u32(dims, 4 * i));
    count *= static_cast<uint64_t>(shape.back());
    if (count > (uint64_t{1} << 32)) throw InputError(path + ": IDX header declares more than 2^32 elements");
  }
  const bool whole = max_records <= 0 || max_records >= shape[0];
  const uint64_t per_record = shape[0] > 0 ? count / static_cast<uint64_t>(shape[0]) : 0;
  const uint64_t wanted = whole ? count : per_record * static_cast<uint64_t>(max_records);
  std::string d = file.read(wanted);
  if (whole) d += file.read(1);  // a whole file must end where its header says
  if (d.size() != wanted)
    throw InputError(path + ": IDX data holds " +
                     (d.size() > wanted ? "more than " + std::to_string(wanted) : std::to_string(d.size())) +
                     " bytes; the header " + shape_to_string(shape) + " declares " + std::to_string(count));
  if (!whole) shape[0] = max_records;
  return IdxBytes{shape, std::move(d)};
}

Tensor read_idx(const std::string& path, int64_t max_records) {
  const IdxBytes idx = read_idx_bytes(path, max_records);
  std::vector<int64_t> values(idx.bytes.size());
  std::transform(idx.bytes.begin(), idx.bytes.end(), values.begin(),
                 [](char v) { return static_cast<int64_t>(static_cast<uint8_t>(v)); });
  return Tensor::of_ints(DType::uint8, idx.shape, std::move(values));
}

Image idx_image(const IdxBytes& idx, int64_t i) {
  const int64_t h = idx.shape.at(1), w = idx.shape.at(2), c = idx.shape.size() == 4 ? idx.shape[3] : 1;
  const auto* first = reinterpret_cast<const uint8_t*>(idx.bytes.data()) + i * h * w * c;
  return Image{h, w, c, std::vector<uint8_t>(first, first + h * w * c)};
}

LabelledImages load_fashion_mnist(const std::string& split, int64_t limit, const Preprocess& preprocess,
                                  const std::string& dir) {
  if (split != "train" && split != "t10k")
    throw InputError("Fashion-MNIST split '" + split + "' is unknown; expected train or t10k");
  const IdxBytes images = read_idx_bytes(dir + "/" + split + "-images-idx3-ubyte.gz", limit);
  const Tensor labels = read_idx(dir + "/" + split + "-labels-idx1-ubyte.gz", limit);
  if (images.shape.size() != 3 || labels.rank() != 1 || images.shape[0] != labels.shape[0])
    throw InputError(dir + ": " + split + " images " + shape_to_string(images.shape) + " and labels " +
                     shape_to_string(labels.shape) + " do not form a labelled image set");
  const int64_t n = limit > 0 ? std::min(limit, images.shape[0]) : images.shape[0];
  const int64_t h = images.shape[1], w = images.shape[2];
  const Shape one = preprocessed_shape(preprocess, h, w, 1);
  Shape shape{n};
  shape.insert(shape.end(), one.begin(), one.end());
  LabelledImages out;
  out.images = Tensor::zeros(DType::float32, shape);
  const int64_t per_image = element_count(one);
  for (int64_t i = 0; i < n; ++i)
    preprocess_image(idx_image(images, i), preprocess, out.images.floats.data() + i * per_image,
                     dir + ": Fashion-MNIST");
  out.labels.assign(labels.ints.begin(), labels.ints.begin() + n);
  return out;
}

}  // namespace chipref
