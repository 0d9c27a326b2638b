#pragma once
// JPEG and PNG files decoded to 8-bit RGB, as torchvision's ImageFolder loader (PIL, then convert("RGB"))
// gives them: JPEG through libjpeg-turbo with its defaults (the library PIL uses on Debian), PNG through
// libpng with palettes expanded, grey replicated, alpha dropped and 16-bit samples reduced to their high byte.

#include <string>

#include "model/io/preprocess.hpp"

namespace chipref {

// The kind is told by the file's first bytes, not its name. InputError naming the file for anything else
// (another format, a truncated or corrupt file, a CMYK JPEG).
Image decode_image_file(const std::string& path);

}  // namespace chipref
