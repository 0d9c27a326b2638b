// Data I/O: the IDX loader on Debian's Fashion-MNIST files (sizes from the dataset's documentation) and
// on malformed files; .npy against byte layouts written by hand from the NumPy format specification.

#include <unistd.h>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "model/io/idx.hpp"
#include "model/io/npy.hpp"

using namespace chipref;
namespace fs = std::filesystem;

namespace {
std::string temp_file(const std::string& name, const std::string& bytes) {
  const fs::path p = fs::temp_directory_path() / ("chipref_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p.string();
}
}  // namespace

TEST_CASE("Io/Fashion-MNIST IDX files have the documented sizes", "[model][io]") {
  const Tensor train = read_idx(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz");
  CHECK(train.shape == Shape{60000, 28, 28});
  // A limited read decompresses only a prefix: it must be exactly the first records of the whole read.
  const Tensor first = read_idx(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz", 200);
  CHECK(first.shape == Shape{200, 28, 28});
  CHECK(first.ints == std::vector<int64_t>(train.ints.begin(), train.ints.begin() + 200 * 28 * 28));
  const Tensor labels = read_idx(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz");
  CHECK(labels.shape == Shape{10000});
  std::vector<int64_t> per_class(10, 0);
  int64_t out_of_range = 0;
  for (int64_t l : labels.ints) {
    if (l < 0 || l > 9)
      ++out_of_range;
    else
      ++per_class[l];
  }
  CHECK(out_of_range == 0);
  CHECK(per_class == std::vector<int64_t>(10, 1000));  // the test set is balanced: 1000 images per class
  const LabelledImages d = load_fashion_mnist("t10k", 5, Normalisation{0.5f, 0.25f});
  CHECK(d.images.shape == Shape{5, 1, 28, 28});
  // pixel 0 of every image is background (0) in Fashion-MNIST: (0/255 - 0.5) / 0.25 = -2
  CHECK(d.images.floats[0] == -2.0f);
}

TEST_CASE("Io/malformed IDX files are clear errors", "[model][io]") {
  CHECK_THROWS_WITH(read_idx("/nonexistent.idx"), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(read_idx(temp_file("bad_magic", "\x01\x02\x08\x01")), Catch::Contains("not an IDX file"));
  CHECK_THROWS_WITH(read_idx(temp_file("short", std::string("\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", 10))),
                    Catch::Contains("holds 2 bytes") && Catch::Contains("declares 5"));
  CHECK_THROWS_WITH(read_idx(temp_file("type", std::string("\x00\x00\x0D\x01\x00\x00\x00\x01\x00\x00\x00\x00", 12))),
                    Catch::Contains("element type"));
  // Records of 2 bytes, 3 declared: the limit reads and checks only what it returns.
  const std::string two_records =
      temp_file("two_of_three", std::string("\x00\x00\x08\x02\x00\x00\x00\x03\x00\x00\x00\x02\x07\x08\x09\xff", 16));
  const Tensor prefix = read_idx(two_records, 2);
  CHECK(prefix.shape == Shape{2, 2});
  CHECK(prefix.ints == std::vector<int64_t>{7, 8, 9, 255});
  CHECK_THROWS_WITH(read_idx(two_records, 3), Catch::Contains("holds 4 bytes") && Catch::Contains("declares 6"));
  CHECK_THROWS_WITH(read_idx(two_records), Catch::Contains("holds 4 bytes"));
  CHECK_THROWS_WITH(read_idx(temp_file("long", std::string("\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02\x03", 11))),
                    Catch::Contains("holds more than 2 bytes") && Catch::Contains("declares 2"));
}

TEST_CASE("Io/npy reads the NumPy format written by hand", "[model][io]") {
  // np.save of np.array([[1, -2, 3]], dtype='<i2'): magic, version 1.0, header length 118, header, data.
  std::string header = "{'descr': '<i2', 'fortran_order': False, 'shape': (1, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  bytes += std::string("\x01\x00\xfe\xff\x03\x00", 6);
  const Tensor t = parse_npy(bytes, "hand.npy");
  CHECK(t.dtype == DType::int16);
  CHECK(t.shape == Shape{1, 3});
  CHECK(t.ints == std::vector<int64_t>{1, -2, 3});
  CHECK(serialize_npy(t) == bytes);  // chipref writes exactly what NumPy writes
}

TEST_CASE("Io/npy round trip for every supported type, and bad files", "[model][io]") {
  const std::vector<DType> types = {DType::int8,  DType::uint8, DType::int16,  DType::uint16,
                                    DType::int32, DType::int64, DType::boolean};
  for (DType d : types) {
    const Tensor t = Tensor::of_ints(d, {2, 1}, {dtype_min(d) == 0 ? 1 : dtype_min(d), dtype_max(d)});
    const Tensor back = parse_npy(serialize_npy(t), "x.npy");
    CHECK(back.dtype == d);
    CHECK(back.ints == t.ints);
  }
  const Tensor f = Tensor::of_floats({3}, {1.5f, -0.0f, 3e38f});
  const std::string path = temp_file("f.npy", "");
  write_npy(path, f);
  CHECK(read_npy(path).floats == f.floats);
  CHECK_THROWS_WITH(parse_npy("garbage", "g.npy"), Catch::Contains("not a .npy file"));
  std::string truncated = serialize_npy(f);
  truncated.pop_back();
  CHECK_THROWS_WITH(parse_npy(truncated, "t.npy"), Catch::Contains("needs 12"));
  std::string f8 = serialize_npy(f);
  f8.replace(f8.find("<f4"), 3, "<f8");
  CHECK_THROWS_WITH(parse_npy(f8, "d.npy"), Catch::Contains("'<f8' is not supported"));
}
