// Image files (JPEG and PNG through libjpeg-turbo and libpng, their errors caught by chipref's setjmp
// handlers), then the preprocessing's resize and crop on whatever decoded.
#include "fuzz/harness.hpp"
#include "model/io/images.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = chipref::fuzz::write_scratch("image", chipref::fuzz::bytes_of(data, size));
  return chipref::fuzz::only_chipref_errors([&] {
    const chipref::Image image = chipref::decode_image_file(path);
    if (image.height * image.width > (1 << 16)) return;  // a big image says nothing more, slowly
    chipref::Preprocess p;
    p.resize_shorter = 7;
    p.crop_height = 5, p.crop_width = 9;  // wider than the short side: padding
    std::vector<float> out(static_cast<size_t>(5 * 9 * image.channels));
    chipref::preprocess_image(image, p, out.data(), path);
  });
}
