// libFuzzer target: the .npy parser on arbitrary bytes. Any outcome but a parsed array or
// a gapp::file_error is a failure; a parsed float or int array must round-trip through serialize.
#include <gapp/io/npy.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto t = gapp::npy::parse_floats(data, size);
    std::size_t n = 1;
    for (auto d : t.shape) n *= d;
    if (n != t.data.size()) std::abort();
    const std::string img = gapp::npy::serialize(t.shape, t.data.data());
    const auto back = gapp::npy::parse_floats(img.data(), img.size());
    if (back.shape != t.shape || back.data.size() != t.data.size() ||
        (n && std::memcmp(back.data.data(), t.data.data(), n * sizeof(float)) != 0))
      std::abort();
  } catch (const gapp::file_error&) {
  }
  try {
    const auto t = gapp::npy::parse_bytes(data, size);
    std::size_t n = 1;
    for (auto d : t.shape) n *= d;
    if (n != t.data.size()) std::abort();
  } catch (const gapp::file_error&) {
  }
  try { // int32 / int64 (permutations): a parsed array round-trips as int32
    const auto t = gapp::npy::parse_ints(data, size);
    std::size_t n = 1;
    for (auto d : t.shape) n *= d;
    if (n != t.data.size()) std::abort();
    const std::string img = gapp::npy::serialize(t.shape, t.data.data());
    const auto back = gapp::npy::parse_ints(img.data(), img.size());
    if (back.shape != t.shape || back.data != t.data) std::abort();
  } catch (const gapp::file_error&) {
  }
  return 0;
}
