// gapp/io/npy.hpp — NumPy .npy files: read (v1, v2, v3 headers; little-endian float32 and
// float64, uint8 and bool; C and Fortran order) and write (float32 or uint8, C order).
//
// The reader never trusts the header: the declared shape must describe exactly the bytes
// that follow it, so a truncated or lying file is rejected before anything is allocated
// for it, and every failure is a gapp::file_error naming the file and the fault.
// Writers are atomic: they write a temporary file beside the target and rename it over
// the target, so an interrupted write never leaves a half-written file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../error.hpp"

namespace gapp::npy {

enum class dtype { f4, f8, u1, b1, i4, i8 };

inline std::size_t item_size(dtype t) {
  return t == dtype::f4 || t == dtype::i4 ? 4 : t == dtype::f8 || t == dtype::i8 ? 8 : 1;
}

struct header {
  dtype type = dtype::f4;
  bool fortran_order = false;
  std::vector<std::size_t> shape; ///< empty for a 0-d array (one element)
  std::size_t data_offset = 0;    ///< bytes before the array data
  std::size_t count() const {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

/// An array read from a .npy file, in C (row-major) order.
template <class T>
struct tensor {
  std::vector<std::size_t> shape;
  std::vector<T> data;
};

namespace detail {

[[noreturn]] inline void fail(std::string_view origin, const std::string& what) {
  throw file_error(std::string(origin) + ": " + what);
}

inline std::uint32_t le32(const unsigned char* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}
inline std::uint64_t le64(const unsigned char* p) { return std::uint64_t(le32(p)) | std::uint64_t(le32(p + 4)) << 32; }

/// A tiny parser for the header's Python dict literal.
class dict_parser {
public:
  dict_parser(std::string_view s, std::string_view origin) : s_(s), origin_(origin) {}

  header parse() {
    header h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') { ++i_; break; }
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        if (have_descr) bad("duplicate key 'descr'");
        have_descr = true;
        h.type = parse_descr(string_literal());
      } else if (key == "fortran_order") {
        if (have_order) bad("duplicate key 'fortran_order'");
        have_order = true;
        h.fortran_order = boolean();
      } else if (key == "shape") {
        if (have_shape) bad("duplicate key 'shape'");
        have_shape = true;
        h.shape = tuple();
      } else {
        bad("unexpected key '" + key + "' in the header");
      }
      skip_ws();
      if (peek() == ',') ++i_;
      else if (peek() != '}') bad("expected ',' or '}' in the header");
    }
    skip_ws();
    if (i_ != s_.size()) bad("unexpected text after the header dictionary");
    if (!have_descr || !have_order || !have_shape) bad("the header lacks 'descr', 'fortran_order' or 'shape'");
    return h;
  }

private:
  std::string_view s_, origin_;
  std::size_t i_ = 0;

  [[noreturn]] void bad(const std::string& what) const { fail(origin_, "malformed .npy header: " + what); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    const std::size_t e = s_.find(q, ++i_);
    if (e == std::string_view::npos || e - i_ > 64) bad("unterminated or overlong string");
    std::string out(s_.substr(i_, e - i_));
    i_ = e + 1;
    return out;
  }
  bool boolean() {
    skip_ws();
    if (s_.substr(i_, 4) == "True") return i_ += 4, true;
    if (s_.substr(i_, 5) == "False") return i_ += 5, false;
    bad("fortran_order must be True or False");
  }
  std::vector<std::size_t> tuple() {
    std::vector<std::size_t> dims;
    expect('(');
    for (;;) {
      skip_ws();
      if (peek() == ')') { ++i_; break; }
      if (peek() < '0' || peek() > '9') bad("shape entries must be non-negative integers");
      std::size_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        const std::size_t d = static_cast<std::size_t>(peek() - '0');
        if (v > (std::numeric_limits<std::size_t>::max() - d) / 10) bad("shape entry overflows");
        v = v * 10 + d;
        ++i_;
      }
      if (peek() == 'L') ++i_; // Python 2 long suffix
      dims.push_back(v);
      if (dims.size() > 32) bad("more than 32 dimensions");
      skip_ws();
      if (peek() == ',') ++i_;
      else if (peek() != ')') bad("expected ',' or ')' in the shape");
    }
    return dims;
  }
  dtype parse_descr(const std::string& d) const {
    if (d == "<f4") return dtype::f4;
    if (d == "<f8") return dtype::f8;
    if (d == "|u1" || d == "<u1" || d == "u1") return dtype::u1;
    if (d == "|b1" || d == "b1") return dtype::b1;
    if (d == "<i4") return dtype::i4;
    if (d == "<i8") return dtype::i8;
    if (d == ">f4" || d == ">f8" || d == ">i4" || d == ">i8")
      fail(origin_, "big-endian data ('" + d + "') is not supported; save it little-endian");
    fail(origin_, "unsupported dtype '" + d + "' (supported: <f4, <f8, |u1, |b1, <i4, <i8)");
  }
};

inline header parse_header(const unsigned char* p, std::size_t n, std::string_view origin) {
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (n < 10 || std::memcmp(p, magic, 6) != 0) fail(origin, "not a .npy file (bad magic string)");
  const unsigned major = p[6];
  std::size_t len = 0, off = 0;
  if (major == 1) len = std::size_t(p[8]) | std::size_t(p[9]) << 8, off = 10;
  else if (major == 2 || major == 3) {
    if (n < 12) fail(origin, "truncated .npy header");
    len = le32(p + 8), off = 12;
  } else fail(origin, "unsupported .npy version " + std::to_string(major));
  if (len > n - off) fail(origin, "truncated .npy header (declares " + std::to_string(len) + " bytes)");
  header h = dict_parser(std::string_view(reinterpret_cast<const char*>(p + off), len), origin).parse();
  h.data_offset = off + len;
  // The declared size must be exactly what follows; computed without overflow.
  const std::size_t avail = n - h.data_offset, isz = item_size(h.type);
  std::size_t count = 1;
  bool empty = false;
  for (auto d : h.shape) empty = empty || d == 0;
  if (!empty)
    for (auto d : h.shape) {
      if (count > std::numeric_limits<std::size_t>::max() / isz / d) fail(origin, "declared shape overflows");
      count *= d;
    }
  else count = 0;
  if (count * isz != avail)
    fail(origin, "declared shape needs " + std::to_string(count * isz) + " bytes of data but the file holds " +
                     std::to_string(avail) + (count * isz > avail ? " (truncated file or lying header)" : " (trailing data)"));
  return h;
}

/// The C-order copy of an array of `shape` stored in Fortran order.
template <class T>
std::vector<T> reorder_fortran(const std::vector<T>& f, const std::vector<std::size_t>& shape) {
  if (shape.size() < 2) return f;
  std::vector<T> c(f.size());
  std::vector<std::size_t> idx(shape.size(), 0), stride(shape.size(), 1);
  for (std::size_t k = 1; k < shape.size(); ++k) stride[k] = stride[k - 1] * shape[k - 1];
  for (std::size_t i = 0; i < c.size(); ++i) {
    std::size_t fi = 0;
    for (std::size_t k = 0; k < shape.size(); ++k) fi += idx[k] * stride[k];
    c[i] = f[fi];
    for (std::size_t k = shape.size(); k-- > 0;) { // C order: last index fastest
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return c;
}

/// What kind of thing a path names, for messages ("a directory", "a FIFO", ...).
inline const char* kind_of(const std::filesystem::file_status& st) {
  namespace fs = std::filesystem;
  switch (st.type()) {
  case fs::file_type::directory: return "a directory";
  case fs::file_type::fifo: return "a FIFO";
  case fs::file_type::socket: return "a socket";
  case fs::file_type::block: return "a block device";
  case fs::file_type::character: return "a character device";
  default: return "not a regular file";
  }
}

/// Every input is a regular file (after following links), checked before any read.
inline void require_regular_input(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) fail(path, "no such file");
  if (!std::filesystem::is_regular_file(st)) fail(path, std::string("is ") + kind_of(st) + ", not a regular file");
}

inline std::vector<unsigned char> read_file(const std::string& path) {
  require_regular_input(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path, "cannot determine the file size");
  in.seekg(0, std::ios::beg);
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) fail(path, "read error");
  return bytes;
}

} // namespace detail

/// Parses a .npy image in memory holding float32 or float64 data (float64 is converted).
/// `origin` names the source in error messages.
inline tensor<float> parse_floats(const void* data, std::size_t n, std::string_view origin = "<memory>") {
  const auto* p = static_cast<const unsigned char*>(data);
  const header h = detail::parse_header(p, n, origin);
  if (h.type != dtype::f4 && h.type != dtype::f8) detail::fail(origin, "expected float32 or float64 data");
  tensor<float> t{h.shape, std::vector<float>(h.count())};
  const unsigned char* d = p + h.data_offset;
  for (std::size_t i = 0; i < t.data.size(); ++i) {
    if (h.type == dtype::f4) {
      const std::uint32_t b = detail::le32(d + 4 * i);
      std::memcpy(&t.data[i], &b, 4);
    } else {
      const std::uint64_t b = detail::le64(d + 8 * i);
      double v;
      std::memcpy(&v, &b, 8);
      t.data[i] = static_cast<float>(v);
    }
  }
  if (h.fortran_order) t.data = detail::reorder_fortran(t.data, t.shape);
  return t;
}

/// Parses a .npy image in memory holding uint8 or bool data (a mask).
inline tensor<std::uint8_t> parse_bytes(const void* data, std::size_t n, std::string_view origin = "<memory>") {
  const auto* p = static_cast<const unsigned char*>(data);
  const header h = detail::parse_header(p, n, origin);
  if (h.type != dtype::u1 && h.type != dtype::b1) detail::fail(origin, "expected uint8 or bool data");
  tensor<std::uint8_t> t{h.shape, std::vector<std::uint8_t>(p + h.data_offset, p + h.data_offset + h.count())};
  if (h.fortran_order) t.data = detail::reorder_fortran(t.data, t.shape);
  return t;
}

/// Parses a .npy image in memory holding int32 or int64 data (a permutation, indices); an
/// int64 value outside the int32 range is an error.
inline tensor<std::int32_t> parse_ints(const void* data, std::size_t n, std::string_view origin = "<memory>") {
  const auto* p = static_cast<const unsigned char*>(data);
  const header h = detail::parse_header(p, n, origin);
  if (h.type != dtype::i4 && h.type != dtype::i8) detail::fail(origin, "expected int32 or int64 data");
  tensor<std::int32_t> t{h.shape, std::vector<std::int32_t>(h.count())};
  const unsigned char* d = p + h.data_offset;
  for (std::size_t i = 0; i < t.data.size(); ++i) {
    if (h.type == dtype::i4) {
      const std::uint32_t b = detail::le32(d + 4 * i);
      std::memcpy(&t.data[i], &b, 4);
    } else {
      const std::uint64_t b = detail::le64(d + 8 * i);
      std::int64_t v;
      std::memcpy(&v, &b, 8);
      if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max())
        detail::fail(origin, "value " + std::to_string(v) + " at index " + std::to_string(i) + " does not fit in int32");
      t.data[i] = static_cast<std::int32_t>(v);
    }
  }
  if (h.fortran_order) t.data = detail::reorder_fortran(t.data, t.shape);
  return t;
}

inline tensor<float> read_floats(const std::string& path) {
  const auto bytes = detail::read_file(path);
  return parse_floats(bytes.data(), bytes.size(), path);
}

inline tensor<std::uint8_t> read_bytes(const std::string& path) {
  const auto bytes = detail::read_file(path);
  return parse_bytes(bytes.data(), bytes.size(), path);
}

inline tensor<std::int32_t> read_ints(const std::string& path) {
  const auto bytes = detail::read_file(path);
  return parse_ints(bytes.data(), bytes.size(), path);
}

/// The .npy image (v1 header, or v2 for a very long one) of C-order data of `shape`.
template <class T>
std::string serialize(const std::vector<std::size_t>& shape, const T* data) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::int32_t>,
                "gapp::npy::serialize writes float32, uint8 or int32 arrays");
  std::string dims;
  std::size_t count = 1;
  for (auto d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d), count *= d;
  if (shape.size() == 1) dims += ",";
  std::string dict = std::string("{'descr': '") + (std::is_same_v<T, float> ? "<f4" : std::is_same_v<T, std::int32_t> ? "<i4" : "|u1") +
                     "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const bool v2 = dict.size() + 11 > 65535;
  const std::size_t pre = v2 ? 12 : 10;
  const std::size_t total = pre + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const std::size_t len = dict.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (v2) out += static_cast<char>((len >> 16) & 0xff), out += static_cast<char>((len >> 24) & 0xff);
  out += dict;
  const std::size_t at = out.size();
  out.resize(at + count * sizeof(T));
  for (std::size_t i = 0; i < count; ++i) {
    if constexpr (sizeof(T) == 4) {
      std::uint32_t b;
      std::memcpy(&b, &data[i], 4);
      for (int k = 0; k < 4; ++k) out[at + 4 * i + static_cast<std::size_t>(k)] = static_cast<char>((b >> (8 * k)) & 0xff);
    } else {
      out[at + i] = static_cast<char>(data[i]);
    }
  }
  return out;
}

namespace detail {
/// An output may be created or may replace a regular file; anything else that exists at its
/// path (a directory, a device such as /dev/null, a FIFO) is refused, never renamed over.
inline void require_replaceable(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    fail(path, std::string("exists and is ") + kind_of(st) + "; refusing to replace it");
}
} // namespace detail

/// Writes several files so that either all of them are written or none is touched: each
/// target is checked, every temporary file is written first, and only then is each renamed
/// over its target. On a failure before the renames every temporary is removed and the
/// targets are untouched (gapp::file_error names the file).
inline void write_all_atomic(const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& f : files) detail::require_replaceable(f.first);
  std::random_device rd;
  std::vector<std::string> temps;
  auto drop = [&] {
    for (const auto& t : temps) std::remove(t.c_str());
  };
  for (const auto& [path, bytes] : files) {
    const std::string tmp = path + ".tmp-" + std::to_string(rd()) + std::to_string(rd());
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      drop();
      detail::fail(path, "cannot open a temporary file for writing (does the directory exist?)");
    }
    temps.push_back(tmp);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      drop();
      detail::fail(path, "write error");
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::error_code ec;
    std::filesystem::rename(temps[i], files[i].first, ec);
    if (ec) {
      for (std::size_t j = i; j < temps.size(); ++j) std::remove(temps[j].c_str());
      detail::fail(files[i].first, "cannot replace the file: " + ec.message());
    }
  }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a
/// rename over `path`. On any failure the temporary is removed, `path` is untouched and
/// gapp::file_error is thrown.
inline void write_atomic(const std::string& path, const std::string& bytes) {
  detail::require_replaceable(path);
  std::random_device rd;
  const std::string tmp = path + ".tmp-" + std::to_string(rd()) + std::to_string(rd());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) detail::fail(path, "cannot open a temporary file for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      detail::fail(path, "write error");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    detail::fail(path, "cannot replace the file: " + ec.message());
  }
}

/// Writes a C-order float32 array.
inline void write(const std::string& path, const std::vector<std::size_t>& shape, const float* data) {
  write_atomic(path, serialize(shape, data));
}

/// Writes a C-order uint8 array (masks: 1 = kept).
inline void write(const std::string& path, const std::vector<std::size_t>& shape, const std::uint8_t* data) {
  write_atomic(path, serialize(shape, data));
}

/// Writes a C-order int32 array (permutations).
inline void write(const std::string& path, const std::vector<std::size_t>& shape, const std::int32_t* data) {
  write_atomic(path, serialize(shape, data));
}

} // namespace gapp::npy
