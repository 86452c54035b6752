// Compiled with -Wall -Wextra -Werror -pedantic and OpenCL headers replaced by #error traps.
#include <gapp/prune.hpp>

int main() {
  using P = gapp::presets::nvidia;
  const float w[4] = {1, -2, 3, -4};
  const auto m = gapp::prune<P>(gapp::matrix_view(w, 2, 2), gapp::units::element{}, 0.5);
  const auto p = gapp::pack(gapp::matrix_view(w, 2, 2), m);
  return static_cast<int>(p.nnz()) == 2 ? 0 : 1;
}
