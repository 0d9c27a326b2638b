#include "model/io/images.hpp"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.hpp"

namespace chipref {

namespace {

// A header may claim any size up to 65535 × 65535; decoding is refused past this many pixels (an 11 000 ×
// 11 000 photo, 360 MB of RGB) before anything that large is allocated.
constexpr int64_t kMaxImagePixels = int64_t{1} << 27;

void check_size(int64_t height, int64_t width, const std::string& path) {
  if (height * width > kMaxImagePixels)
    throw InputError(path + ": " + std::to_string(width) + " x " + std::to_string(height) +
                     " pixels is more than chipref decodes (" + std::to_string(kMaxImagePixels) + " pixels)");
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

// libjpeg reports errors through a callback that must not return: it jumps back to decode_jpeg with the
// library's message.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

void jpeg_ignore_warning(j_common_ptr, int) {}

// Everything that must survive the longjmp lives outside the function that calls setjmp.
Image decode_jpeg(FILE* file, const std::string& path) {
  jpeg_decompress_struct cinfo{};
  JpegError error{};
  cinfo.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpeg_fail;
  error.manager.emit_message = jpeg_ignore_warning;
  Image image;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw InputError(path + ": not a readable JPEG: " + error.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, file);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    throw InputError(path + ": a CMYK JPEG; chipref decodes greyscale and colour (YCbCr/RGB) JPEGs");
  }
  if (static_cast<int64_t>(cinfo.image_width) * cinfo.image_height > kMaxImagePixels) {
    const int64_t h = cinfo.image_height, w = cinfo.image_width;
    jpeg_destroy_decompress(&cinfo);
    check_size(h, w, path);
  }
  cinfo.out_color_space = JCS_RGB;  // greyscale replicated, as PIL's convert("RGB") does
  jpeg_start_decompress(&cinfo);
  image.height = cinfo.output_height;
  image.width = cinfo.output_width;
  image.channels = 3;
  image.pixels.resize(image.height * image.width * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = image.pixels.data() + static_cast<int64_t>(cinfo.output_scanline) * image.width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return image;
}

struct PngError {
  std::jmp_buf jump;
  char message[256];
};

void png_fail(png_structp png, png_const_charp message) {
  auto* e = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(e->message, sizeof e->message, "%s", message);
  std::longjmp(e->jump, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

Image decode_png(FILE* file, const std::string& path) {
  PngError error{};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, png_fail, png_ignore_warning);
  if (!png) throw InputError(path + ": cannot start libpng");
  png_infop info = png_create_info_struct(png);
  // Everything with a destructor is made before setjmp: a longjmp must not skip one.
  Image image;
  std::vector<png_bytep> rows;
  std::vector<png_byte> samples;
  if (setjmp(error.jump)) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw InputError(path + ": not a readable PNG: " + error.message);
  }
  png_init_io(png, file);
  png_read_info(png, info);
  if (static_cast<int64_t>(png_get_image_width(png, info)) * png_get_image_height(png, info) > kMaxImagePixels) {
    const int64_t h = png_get_image_height(png, info), w = png_get_image_width(png, info);
    png_destroy_read_struct(&png, &info, nullptr);
    check_size(h, w, path);
  }
  const int color = png_get_color_type(png, info);
  // PIL opens 16-bit greyscale as 32-bit integers, and convert("RGB") clamps them at 255; every other 16-bit
  // PNG it reads through its high bytes, as png_set_strip_16 does.
  const bool grey16 = color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) == 16;
  if (grey16) {
    png_read_update_info(png, info);
    image.height = png_get_image_height(png, info);
    image.width = png_get_image_width(png, info);
    image.channels = 3;
    samples.resize(image.height * image.width * 2);
    rows.resize(image.height);
    for (int64_t y = 0; y < image.height; ++y) rows[y] = samples.data() + y * image.width * 2;
    png_read_image(png, rows.data());
    png_read_end(png, nullptr);
    png_destroy_read_struct(&png, &info, nullptr);
    image.pixels.resize(image.height * image.width * 3);
    for (int64_t i = 0; i < image.height * image.width; ++i) {
      const uint8_t v = samples[2 * i] == 0 ? samples[2 * i + 1] : 255;  // big-endian samples
      std::fill_n(image.pixels.data() + 3 * i, 3, v);
    }
    return image;
  }
  png_set_strip_16(png);
  png_set_packing(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
    if (png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
  }
  png_set_strip_alpha(png);
  png_read_update_info(png, info);
  image.height = png_get_image_height(png, info);
  image.width = png_get_image_width(png, info);
  image.channels = 3;
  if (png_get_rowbytes(png, info) != static_cast<size_t>(image.width * 3))
    png_error(png, "unexpected row size after conversion to 8-bit RGB");
  image.pixels.resize(image.height * image.width * 3);
  rows.resize(image.height);
  for (int64_t y = 0; y < image.height; ++y) rows[y] = image.pixels.data() + y * image.width * 3;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return image;
}

}  // namespace

Image decode_image_file(const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) throw InputError(path + ": cannot open the image: " + std::strerror(errno));
  unsigned char magic[8] = {};
  const size_t got = std::fread(magic, 1, sizeof magic, file.get());
  std::rewind(file.get());
  if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) return decode_jpeg(file.get(), path);
  if (got == 8 && png_sig_cmp(magic, 0, 8) == 0) return decode_png(file.get(), path);
  throw InputError(path + ": neither a JPEG nor a PNG (by its first bytes); chipref decodes those two");
}

}  // namespace chipref
