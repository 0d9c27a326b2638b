#include "kernels/compare.hpp"

#include "core/error.hpp"

namespace chipref::kernels {

Relation parse_relation(const std::string& name) {
  if (name == "equal") return Relation::equal;
  if (name == "not_equal") return Relation::not_equal;
  if (name == "less") return Relation::less;
  if (name == "greater") return Relation::greater;
  if (name == "less_or_equal") return Relation::less_or_equal;
  if (name == "greater_or_equal") return Relation::greater_or_equal;
  throw InputError("relation '" + name +
                   "' is not one of equal, not_equal, less, greater, less_or_equal, greater_or_equal");
}

namespace {
template <class Holds>
void apply(const int32_t* x, int64_t n, int32_t* y, Holds holds) {
  for (int64_t i = 0; i < n; ++i) y[i] = holds(int64_t{x[i]}) ? 1 : 0;
}
}  // namespace

void compare(Relation relation, int64_t v, const int32_t* x, int64_t n, int32_t* y) {
  switch (relation) {
    case Relation::equal:
      return apply(x, n, y, [v](int64_t a) { return a == v; });
    case Relation::not_equal:
      return apply(x, n, y, [v](int64_t a) { return a != v; });
    case Relation::less:
      return apply(x, n, y, [v](int64_t a) { return a < v; });
    case Relation::greater:
      return apply(x, n, y, [v](int64_t a) { return a > v; });
    case Relation::less_or_equal:
      return apply(x, n, y, [v](int64_t a) { return a <= v; });
    case Relation::greater_or_equal:
      return apply(x, n, y, [v](int64_t a) { return a >= v; });
  }
}

}  // namespace chipref::kernels
