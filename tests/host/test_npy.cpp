#include <catch2/catch.hpp>

#include <gapp/io/npy.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

using namespace gapp;
namespace fs = std::filesystem;

namespace {

std::string tmp(const std::string& name) { return std::string(GAPP_TEST_TMP) + "/npy_" + name; }

/// A .npy image with a hand-written header dict (padded as NumPy does) and raw data.
std::string image(const std::string& dict, const std::string& data, int version = 1) {
  std::string h = dict;
  const std::size_t pre = version == 1 ? 10 : 12;
  while ((pre + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(version);
  out += '\0';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>((h.size() >> 8) & 0xff);
  if (version != 1) out += std::string(2, '\0');
  return out + h + data;
}

template <class T>
std::string raw(std::initializer_list<T> v) {
  std::string s(v.size() * sizeof(T), '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

} // namespace

TEST_CASE("npy float32 and uint8 round trip through files", "[npy]") {
  const std::vector<std::vector<std::size_t>> shapes{{}, {5}, {3, 4}, {2, 3, 2, 2}, {0, 3}};
  for (const auto& shape : shapes) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> f(n);
    std::vector<std::uint8_t> u(n);
    for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<float>(i) * 0.5f - 3.0f, u[i] = static_cast<std::uint8_t>(i % 2);
    npy::write(tmp("f.npy"), shape, f.data());
    npy::write(tmp("u.npy"), shape, u.data());
    const auto rf = npy::read_floats(tmp("f.npy"));
    const auto ru = npy::read_bytes(tmp("u.npy"));
    REQUIRE(rf.shape == shape);
    REQUIRE(rf.data == f);
    REQUIRE(ru.shape == shape);
    REQUIRE(ru.data == u);
    // NumPy aligns the data to 64 bytes
    REQUIRE((fs::file_size(tmp("f.npy")) - n * 4) % 64 == 0);
  }
}

TEST_CASE("npy reads what NumPy writes: v1/v2/v3, float64, bool, Fortran order", "[npy]") {
  const auto f4 = raw<float>({1, 2, 3, 4, 5, 6});
  auto t = npy::parse_floats(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4).data(),
                             image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4).size());
  REQUIRE(t.data == std::vector<float>{1, 2, 3, 4, 5, 6});
  // Fortran order: column-major storage of [[1, 3, 5], [2, 4, 6]]
  auto img = image("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f4);
  t = npy::parse_floats(img.data(), img.size());
  REQUIRE(t.shape == std::vector<std::size_t>{2, 3});
  REQUIRE(t.data == std::vector<float>{1, 3, 5, 2, 4, 6});
  img = image("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1, 3), }", f4);
  REQUIRE(npy::parse_floats(img.data(), img.size()).data == std::vector<float>{1, 3, 5, 2, 4, 6});
  img = image("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", raw<double>({0.5, -2.25, 1e10}));
  REQUIRE(npy::parse_floats(img.data(), img.size()).data == std::vector<float>{0.5f, -2.25f, 1e10f});
  img = image("{\"descr\": \"|b1\", \"fortran_order\": False, \"shape\": (2, 2)}", std::string("\1\0\0\1", 4), 2);
  REQUIRE(npy::parse_bytes(img.data(), img.size()).data == std::vector<std::uint8_t>{1, 0, 0, 1});
  img = image("{'shape': (4,), 'fortran_order': False, 'descr': '|u1'}", std::string("\1\0\1\1", 4), 3);
  REQUIRE(npy::parse_bytes(img.data(), img.size()).data == std::vector<std::uint8_t>{1, 0, 1, 1});
}

TEST_CASE("malformed, truncated and hostile npy input is refused", "[npy][errors]") {
  const auto good_dict = std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }");
  const auto data = raw<float>({1, 2, 3, 4});
  auto refuse = [](const std::string& img, const char* why) {
    INFO(why);
    REQUIRE_THROWS_AS(npy::parse_floats(img.data(), img.size()), gapp::file_error);
    REQUIRE_THROWS_WITH(npy::parse_floats(img.data(), img.size()), Catch::Contains(why));
  };
  refuse("", "bad magic");
  refuse("\x93NUMPX\1\0\0\0", "bad magic");
  refuse(image(good_dict, data).substr(0, 40), "truncated .npy header");
  refuse(image(good_dict, data).substr(0, image(good_dict, data).size() - 1), "truncated file or lying header");
  refuse(image(good_dict, data + "xx"), "trailing data");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000000000), }", data),
         "declared shape overflows");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000,), }", data), "lying header");
  refuse(image("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", data), "big-endian");
  refuse(image("{'descr': '<i2', 'fortran_order': False, 'shape': (4, 2), }", data), "unsupported dtype");
  refuse(image("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", data), "expected float32 or float64");
  refuse(image("{'descr': '<f4', 'shape': (2, 2), }", data), "lacks");
  refuse(image("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data), "duplicate key 'descr'");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'fortran_order': False, 'shape': (2, 2), }", data),
         "duplicate key 'fortran_order'");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'shape': (2, 2), }", data), "duplicate key 'shape'");
  std::string dims33 = "(2, 2"; // 33 dimensions holding the 4 values: more than a reader allocates for
  for (int i = 0; i < 31; ++i) dims33 += ", 1";
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': " + dims33 + "), }", data), "more than 32 dimensions");
  std::string dims32 = "(2, 2";
  for (int i = 0; i < 30; ++i) dims32 += ", 1";
  const std::string ok32 = image("{'descr': '<f4', 'fortran_order': False, 'shape': " + dims32 + "), }", data);
  REQUIRE(npy::parse_floats(ok32.data(), ok32.size()).shape.size() == 32);
  refuse(image("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 2), }", data), "True or False");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2), }", data), "non-negative integers");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", data), "unexpected key");
  refuse(image("{'descr' '<f4', 'fortran_order': False, 'shape': (2, 2)}", data), "malformed .npy header: expected ':'");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2}", data), "expected ',' or ')'");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)", data), "expected ',' or '}'");
  refuse(image("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 2)}", data), "unsupported dtype '<f4, '");
  refuse(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} junk", data), "after the header");
  refuse(image("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", "abcd"), "expected float32 or float64");
  std::string v9 = image(good_dict, data);
  v9[6] = 9;
  refuse(v9, "unsupported .npy version 9");
  std::string long_len = image(good_dict, data);
  long_len[8] = '\xff', long_len[9] = '\xff';
  refuse(long_len, "truncated .npy header");
  const auto u8 = image("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", raw<float>({1}));
  REQUIRE_THROWS_WITH(npy::parse_bytes(u8.data(), u8.size()), Catch::Contains("expected uint8 or bool"));
  REQUIRE_THROWS_WITH(npy::read_floats(tmp("does-not-exist.npy")), Catch::Contains("no such file"));
  // a path that is not a regular file is refused before any read (no allocation sized by it)
  fs::create_directories(tmp("a-dir"));
  REQUIRE_THROWS_WITH(npy::read_floats(tmp("a-dir")), Catch::Contains("is a directory, not a regular file"));
  REQUIRE_THROWS_WITH(npy::read_bytes(tmp("a-dir")), Catch::Contains("is a directory, not a regular file"));
}

TEST_CASE("npy writes are atomic: a failed write leaves nothing behind", "[npy][errors]") {
  const float f[2] = {1, 2};
  const std::string dir = tmp("no-such-dir");
  REQUIRE_THROWS_AS(npy::write(dir + "/x.npy", {2}, f), gapp::file_error);
  REQUIRE_FALSE(fs::exists(dir));
  // replacing an existing file keeps no temporary beside it
  const std::string target = tmp("atomic.npy");
  npy::write(target, {2}, f);
  npy::write(target, {1}, f);
  REQUIRE(npy::read_floats(target).shape == std::vector<std::size_t>{1});
  // a target that exists and is not a regular file is never replaced
  fs::create_directories(tmp("out-dir"));
  REQUIRE_THROWS_WITH(npy::write(tmp("out-dir"), {2}, f), Catch::Contains("exists and is a directory; refusing"));
  REQUIRE(fs::is_directory(tmp("out-dir")));
  // several files: all or none
  const std::string a = tmp("all-a.npy"), b = tmp("no-such-dir/all-b.npy");
  fs::remove(a);
  REQUIRE_THROWS_AS(npy::write_all_atomic({{a, "A"}, {b, "B"}}), gapp::file_error);
  REQUIRE_FALSE(fs::exists(a));
  npy::write_all_atomic({{a, "A"}, {tmp("all-c.npy"), "C"}});
  REQUIRE(fs::file_size(a) == 1);
  REQUIRE(fs::file_size(tmp("all-c.npy")) == 1);
  for (const auto& e : fs::directory_iterator(GAPP_TEST_TMP)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("npy_", 0) == 0) REQUIRE(name.find(".tmp-") == std::string::npos);
  }
}

TEST_CASE("int32 arrays (permutations) round-trip; int64 is narrowed with a check", "[npy]") {
  const std::vector<std::int32_t> p{3, 0, -2, 2147483647};
  const std::string img = npy::serialize({4}, p.data());
  const auto t = npy::parse_ints(img.data(), img.size(), "p.npy");
  CHECK(t.shape == std::vector<std::size_t>{4});
  CHECK(t.data == p);
  CHECK_THROWS_WITH(npy::parse_floats(img.data(), img.size(), "p.npy"), Catch::Contains("expected float32"));
  const auto i64 = [](std::int64_t v) {
    std::string b(8, '\0');
    for (int k = 0; k < 8; ++k) b[static_cast<std::size_t>(k)] = static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * k)) & 0xff);
    return b;
  };
  const std::string ok = image("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", i64(5) + i64(-7));
  CHECK(npy::parse_ints(ok.data(), ok.size()).data == std::vector<std::int32_t>{5, -7});
  const std::string big = image("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", i64(5) + i64(1LL << 40));
  CHECK_THROWS_WITH(npy::parse_ints(big.data(), big.size(), "big.npy"),
                    Catch::Contains("big.npy") && Catch::Contains("does not fit in int32"));
  const std::string f = npy::serialize({2}, std::vector<float>{1, 2}.data());
  CHECK_THROWS_WITH(npy::parse_ints(f.data(), f.size()), Catch::Contains("expected int32 or int64"));
}
