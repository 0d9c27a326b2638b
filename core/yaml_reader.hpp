#pragma once
// Reads a user's YAML file with errors that point at it: every failure is an InputError
// "FILE:LINE:COLUMN: what was wrong; what was expected". Header-only; the user links yaml-cpp.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace chipref {

// "SOURCE:LINE:COLUMN: " for a node's mark, "SOURCE: " where yaml-cpp has none.
inline std::string yaml_mark_text(const std::string& source, const YAML::Mark& m) {
  if (m.is_null()) return source + ": ";
  return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": ";
}

// yaml-cpp keeps both entries of a key written twice in one mapping and its lookups return the first,
// so a repeated key would silently lose a value: refused at the second occurrence, in every mapping of
// the document (a key is compared as written, after YAML's scalar parsing).
inline void reject_duplicate_keys(const YAML::Node& node, const std::string& source, int depth = 0) {
  if (depth > 256) throw InputError(yaml_mark_text(source, node.Mark()) + "nested more than 256 levels deep");
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) reject_duplicate_keys(item, source, depth + 1);
  } else if (node.IsMap()) {
    std::vector<std::pair<std::string, YAML::Mark>> seen;
    for (const auto& kv : node) {
      if (kv.first.IsScalar()) {
        const std::string key = kv.first.Scalar();
        for (const auto& [earlier, mark] : seen)
          if (earlier == key)
            throw InputError(yaml_mark_text(source, kv.first.Mark()) + "duplicate key '" + key + "' (first at line " +
                             std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
                             "); a key may appear once in a mapping");
        seen.emplace_back(key, kv.first.Mark());
      }
      reject_duplicate_keys(kv.second, source, depth + 1);
    }
  }
}

// The YAML document TEXT read from SOURCE, or an InputError "SOURCE:LINE:COLUMN: <reason>" when it does
// not parse or repeats a key.
inline YAML::Node parse_yaml_text(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(yaml_mark_text(source, e.mark) + e.msg);
  }
  reject_duplicate_keys(root, source);
  return root;
}

// The YAML file at `path`, or an InputError: "PATH: cannot open the WHAT" when it cannot be read,
// "PATH:LINE:COLUMN: <reason>" when it does not parse or repeats a key.
inline YAML::Node load_yaml_file(const std::string& path, const std::string& what) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw InputError(path + ": cannot open the " + what);
  } catch (const YAML::Exception& e) {
    throw InputError(yaml_mark_text(path, e.mark) + e.msg);
  }
  reject_duplicate_keys(root, path);
  return root;
}

// Runs a reader of a user's YAML document: a yaml-cpp exception it lets through (a node converted to
// what it is not, say a mapping used as a key) becomes an InputError at the node, like every other
// complaint, instead of escaping as an internal error.
template <class Read>
auto read_yaml_document(const std::string& source, Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const YAML::Exception& e) {
    throw InputError(yaml_mark_text(source, e.mark) + e.msg);
  }
}

class YamlReader {
 public:
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  std::string at(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    return source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
  [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const { throw InputError(at(n) + ": " + what); }

  void expect_map(const YAML::Node& n, const std::string& what, const std::vector<std::string>& keys) const {
    if (!n.IsMap()) fail(n, what + " must be a mapping with keys: " + join(keys));
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) fail(kv.first, "the keys of " + what + " are names; expected one of: " + join(keys));
      const std::string key = kv.first.as<std::string>();
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        fail(kv.first, "unknown key '" + key + "' in " + what + "; expected one of: " + join(keys));
    }
  }
  int integer(const YAML::Node& n, const std::string& key, int lo, int hi) const {
    int v = 0;
    try {
      v = n.as<int>();
    } catch (const YAML::Exception&) {
      fail(n, "'" + key + "' must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    if (v < lo || v > hi)
      fail(n, "'" + key + "' is " + std::to_string(v) + "; expected " + std::to_string(lo) + ".." + std::to_string(hi));
    return v;
  }
  double number(const YAML::Node& n, const std::string& key, double lo, double hi) const {
    double v = 0;
    const std::string range = fmt_number(lo) + ".." + fmt_number(hi);
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      fail(n, "'" + key + "' must be a number in " + range);
    }
    if (!(v >= lo && v <= hi)) fail(n, "'" + key + "' is " + fmt_number(v) + "; expected " + range);
    return v;
  }
  static std::string fmt_number(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  }
  bool boolean(const YAML::Node& n, const std::string& key) const {
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(n, "'" + key + "' must be true or false");
    }
  }
  std::string text(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, "'" + key + "' must be a string");
    return n.as<std::string>();
  }
  std::string choice(const YAML::Node& n, const std::string& key, const std::vector<std::string>& choices) const {
    std::string v;
    try {
      v = n.as<std::string>();
    } catch (const YAML::Exception&) {
      fail(n, "'" + key + "' must be one of: " + join(choices));
    }
    if (std::find(choices.begin(), choices.end(), v) == choices.end())
      fail(n, "'" + key + "' is '" + v + "'; expected one of: " + join(choices));
    return v;
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }

 private:
  std::string source_;
};

}  // namespace chipref
