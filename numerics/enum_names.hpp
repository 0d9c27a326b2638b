#pragma once
// One table per enum maps values to the names used in YAML, manifests and reports; parsing an unknown
// name is an InputError that lists every valid choice.

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace chipref::enum_names {

template <class E>
struct Entry {
  E value;
  std::string_view name;
};

template <class E, std::size_t N>
std::string_view name_of(E value, const Entry<E> (&table)[N]) {
  for (const auto& e : table)
    if (e.value == value) return e.name;
  return "?";
}

template <class E, std::size_t N>
E parse(std::string_view what, std::string_view name, const Entry<E> (&table)[N]) {
  std::string choices;
  for (const auto& e : table) {
    if (e.name == name) return e.value;
    choices += (choices.empty() ? "" : ", ") + std::string(e.name);
  }
  throw InputError("unknown " + std::string(what) + " '" + std::string(name) + "'; expected one of: " + choices);
}

}  // namespace chipref::enum_names
