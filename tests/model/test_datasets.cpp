// Data sources and the preprocessing pipeline against independent readers: torchvision's ImageFolder and
// transforms (through Debian's python3-torchvision and PIL) on JPEG and PNG files, and NumPy's files.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/files.hpp"
#include "model/io/datasets.hpp"
#include "model/io/idx.hpp"
#include "model/io/npy.hpp"

using namespace chipref;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("chipref_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The folder torchvision_reference.py writes, made once per process.
const fs::path& torchvision_reference() {
  static const fs::path dir = [] {
    const fs::path d = scratch("torchvision_reference");
    const std::string command = "/usr/bin/python3 " CHIPREF_SOURCE_DIR "/tests/model/torchvision_reference.py " +
                                d.string() + " 2>" + (d / "python.log").string();
    if (std::system(command.c_str()) != 0)
      FAIL("torchvision_reference.py failed (python3-torch, python3-torchvision, python3-pil: scripts/setup); see "
           << (d / "python.log").string());
    return d;
  }();
  return dir;
}

void write(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

}  // namespace

// The whole pipeline is the same integer and float32 operations as PIL's and torch's, so the tolerance is
// zero: any difference is a bug (decoder settings, a resampling coefficient, a rounding, an order of steps).
TEST_CASE("Data/an image folder through each pipeline is torchvision's ImageFolder + transforms to the bit",
          "[data][preprocess]") {
  const fs::path& ref = torchvision_reference();
  const Tensor labels = read_npy((ref / "labels.npy").string());
  for (const char* pipeline : {"imagenet", "exact_odd", "bgr_nhwc"}) {
    INFO("pipeline " << pipeline);
    DataRequest request;
    request.preprocess = read_preprocess_file((ref / (std::string(pipeline) + ".yaml")).string());
    request.threads = 2;
    const auto data = open_dataset("imagefolder:" + (ref / "images").string(), request);
    const Tensor expected = read_npy((ref / (std::string(pipeline) + ".npy")).string());
    REQUIRE(data->shape() == expected.shape);
    const Tensor got = data->rows(0, data->count());
    int64_t differ = 0;
    for (size_t i = 0; i < got.floats.size(); ++i) differ += got.floats[i] != expected.floats[i];
    CHECK(differ == 0);
    CHECK(data->labels() == labels.ints);
    CHECK(data->class_names() == std::vector<std::string>{"cat", "dog", "empty_is_not_a_class_file"});
    CHECK(data->preprocessed());
  }
}

TEST_CASE("Data/resize and crop follow torchvision's size rules", "[data][preprocess]") {
  // Resize(256): the shorter side 256, the longer int(256 * long / short), truncated
  CHECK(resized_size(300, 400, 256) == std::pair<int64_t, int64_t>{256, 341});  // 341.33
  CHECK(resized_size(400, 300, 256) == std::pair<int64_t, int64_t>{341, 256});
  CHECK(resized_size(231, 257, 256) == std::pair<int64_t, int64_t>{256, 284});  // 284.8 truncated, not rounded
  CHECK(resized_size(100, 100, 7) == std::pair<int64_t, int64_t>{7, 7});
  // CenterCrop: round((size - crop) / 2) half to even: 33 / 2 = 16.5 -> 16, 35 / 2 = 17.5 -> 18
  Image column{257, 1, 1, {}};
  for (int64_t y = 0; y < 257; ++y) column.pixels.push_back(static_cast<uint8_t>(y));
  CHECK(center_crop(column, 224, 1).pixels.front() == 16);
  Image taller{259, 1, 1, {}};
  for (int64_t y = 0; y < 259; ++y) taller.pixels.push_back(static_cast<uint8_t>(y));
  CHECK(center_crop(taller, 224, 1).pixels.front() == 18);
  // A crop larger than the image pads with zeros, (crop - size) // 2 before
  const Image padded = center_crop(Image{1, 2, 1, {7, 9}}, 1, 5);
  CHECK(padded.pixels == std::vector<uint8_t>{0, 7, 9, 0, 0});
}

TEST_CASE("Data/npy inputs with labels, uint8 images through the pipeline, and their errors", "[data]") {
  const fs::path dir = scratch("npy_data");
  // float inputs are model inputs as they are
  write_npy((dir / "x.npy").string(), Tensor::of_floats({3, 2}, {1, 2, 3, 4, 5, 6}));
  write_npy((dir / "y.npy").string(), Tensor::of_ints(DType::int64, {3}, {2, 0, 1}));
  DataRequest request;
  auto data = open_dataset("npy:" + (dir / "x.npy").string() + ",labels=" + (dir / "y.npy").string(), request);
  CHECK_FALSE(data->preprocessed());
  CHECK(data->rows(1, 2).floats == std::vector<float>{3, 4, 5, 6});
  CHECK(data->labels() == std::vector<int64_t>{2, 0, 1});
  request.limit = 2;
  CHECK(open_dataset((dir / "x.npy").string(), request)->count() == 2);  // a bare path is npy:PATH
  request.limit = 0;
  // uint8 [N, H, W, C] images: scaled and normalised per channel, NCHW out
  write_npy((dir / "img.npy").string(), Tensor::of_ints(DType::uint8, {1, 1, 2, 2}, {0, 255, 51, 102}));
  request.preprocess.mean = {0.0f, 0.5f};
  request.preprocess.std = {1.0f, 0.5f};
  data = open_dataset("npy:" + (dir / "img.npy").string(), request);
  CHECK(data->shape() == Shape{1, 2, 1, 2});
  CHECK(data->rows(0, 1).floats ==
        std::vector<float>{0.0f, 51.0f / 255.0f, (1.0f - 0.5f) / 0.5f, (102.0f / 255.0f - 0.5f) / 0.5f});
  request.preprocess = Preprocess{};
  // label count, label type, unknown kinds and options
  write_npy((dir / "y2.npy").string(), Tensor::of_ints(DType::int64, {2}, {0, 1}));
  write_npy((dir / "yf.npy").string(), Tensor::of_floats({3}, {0, 1, 2}));
  const auto fails = [&](const std::string& spec, const std::string& part) {
    INFO(spec);
    try {
      open_dataset(spec, request);
      FAIL("no error");
    } catch (const InputError& e) {
      CHECK_THAT(e.what(), Catch::Contains(part));
    }
  };
  fails("npy:" + (dir / "x.npy").string() + ",labels=" + (dir / "y2.npy").string(), "2 labels for the 3 inputs");
  fails("npy:" + (dir / "x.npy").string() + ",labels=" + (dir / "yf.npy").string(), "labels must be integers");
  fails("npy:" + (dir / "x.npy").string() + ",label=" + (dir / "y.npy").string(), "npy takes no option 'label'");
  fails("mnist:" + (dir / "x.npy").string(), "unknown data source 'mnist'");
  fails("npy:" + (dir / "missing.npy").string(), "missing.npy");
  fails("imagefolder:" + (dir / "x.npy").string(), "not a folder");
  fails("imagefolder:" + dir.string(), "no class folders");
  fs::create_directories(dir / "cls");
  write(dir / "cls" / "a.txt", "x");
  fails("imagefolder:" + dir.string(), "holds no .jpg, .jpeg or .png file");
  write(dir / "cls" / "b.bmp", "BM");
  fails("imagefolder:" + dir.string(), "a .bmp image; chipref decodes JPEG and PNG");
  fs::remove(dir / "cls" / "b.bmp");
  write(dir / "cls" / "c.jpg", "\xFF\xD8\xFF\xE0 truncated");
  fails("imagefolder:" + dir.string(), "c.jpg: not a readable JPEG");
  write(dir / "cls" / "c.jpg", "GIF89a");
  fails("imagefolder:" + dir.string(), "c.jpg: neither a JPEG nor a PNG");
  // A JPEG whose header claims 60000 x 60000 pixels (the fuzz seed's frame header patched): refused before
  // anything that large is allocated.
  std::string jpeg = read_file_bytes(CHIPREF_SOURCE_DIR "/fuzz/corpus/image/rgb.jpg");
  const size_t sof = jpeg.find("\xFF\xC0");
  REQUIRE(sof != std::string::npos);
  jpeg.replace(sof + 5, 4, "\xEA\x60\xEA\x60");
  write(dir / "cls" / "c.jpg", jpeg);
  fails("imagefolder:" + dir.string(), "60000 x 60000 pixels is more than chipref decodes");
  fails("fashion-mnist:validation", "splits are train and t10k");
  fs::remove_all(dir);
}

TEST_CASE("Data/CIFAR binary batches: planes to pixels, fine and coarse labels, record size checked", "[data]") {
  const fs::path dir = scratch("cifar");
  // Two CIFAR-100 records: coarse, fine, then R, G, B planes of 32x32; pixel (y, x) of plane c is y + x + c
  std::string bytes;
  for (int record = 0; record < 2; ++record) {
    bytes += static_cast<char>(10 + record);  // coarse
    bytes += static_cast<char>(70 + record);  // fine
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) bytes += static_cast<char>(y + x + c + record);
  }
  write(dir / "test.bin", bytes);
  DataRequest request;
  request.preprocess.scale_to_unit = false;
  request.preprocess.nhwc = true;
  auto data = open_dataset("cifar100:" + dir.string(), request);  // a folder: the test split's test.bin
  CHECK(data->shape() == Shape{2, 32, 32, 3});
  CHECK(data->labels() == std::vector<int64_t>{70, 71});
  const Tensor x = data->rows(1, 1);
  CHECK(x.floats[(5 * 32 + 7) * 3 + 2] == 5 + 7 + 2 + 1);  // NHWC: y 5, x 7, blue, record 1
  CHECK(open_dataset("cifar100:" + (dir / "test.bin").string() + ",label=coarse", request)->labels() ==
        std::vector<int64_t>{10, 11});
  try {
    open_dataset("cifar10:" + (dir / "test.bin").string(), request);  // 3074-byte records are not 3073
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("not a whole number of 3073-byte cifar10 records (it is one of CIFAR-100's"));
  }
  fs::remove_all(dir);
}

TEST_CASE("Data/fashion-mnist by name is the IDX pair it names, as load_fashion_mnist reads it", "[data]") {
  DataRequest request;
  request.limit = 7;
  request.preprocess = Normalisation{0.25f, 0.5f};
  const auto data = open_dataset("fashion-mnist", request);
  const LabelledImages reference = load_fashion_mnist("t10k", 7, Normalisation{0.25f, 0.5f});
  CHECK(data->rows(0, 7).floats == reference.images.floats);
  CHECK(data->labels() == reference.labels);
  request.split = DataSplit::train;
  const auto same =
      open_dataset(std::string("idx:") + kFashionMnistDir + "/train-images-idx3-ubyte.gz,labels=" + kFashionMnistDir +
                       "/train-labels-idx1-ubyte.gz",
                   request);
  CHECK(same->rows(0, 7).floats == open_dataset("fashion-mnist", request)->rows(0, 7).floats);
  CHECK(same->rows(0, 7).floats != data->rows(0, 7).floats);  // train, not t10k
}
