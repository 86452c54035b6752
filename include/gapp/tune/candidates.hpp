// gapp/tune/candidates.hpp — the policies gapp-tune measures on a device: a preset's device
// description with other tilings (work-group tile, K step, register tile, unit width), each
// a full gapp::policy with a run-time name, filtered at compile time to those the device
// can hold. Host-only.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "../error.hpp"
#include "../policy/policy.hpp"
#include "../policy/presets.hpp"

namespace gapp::tune {

/// True when policy<Device, Tiling> satisfies every constraint gapp::policy checks, so that
/// instantiating it cannot fail; lets a list of tilings be filtered per device.
template <class Device, class T>
constexpr bool fits() {
  using namespace constraints;
  if (!all_positive(T::tm, T::tn, T::tk, T::rm, T::rn, T::kv)) return false;
  if (!register_tile_divides_tile(T::tm, T::tn, T::rm, T::rn) || !unit_width_divides_k_step(T::tk, T::kv)) return false;
  const int wg = work_group_size(T::tm, T::tn, T::rm, T::rn);
  if (!work_group_fits(wg, Device::max_work_group)) return false;
  if (!local_memory_fits(staged_bytes(T::mode, T::tm, T::tn, T::tk), Device::local_mem_bytes)) return false;
  if (!whole_simd_groups(Device::lanes, wg, Device::simd_width)) return false;
  if (!simd_group_is_rectangular(Device::lanes, T::tn / T::rn, Device::simd_width)) return false;
  if (!register_tile_holds_vectors(Device::lanes, T::rn, Device::simd_width)) return false;
  const int ur = simd_unit_rows(Device::lanes, Device::simd_width, T::tn, T::rm, T::rn);
  return ur > 0 && T::tm % ur == 0;
}

namespace detail {
struct name_buf {
  std::array<char, 96> c{};
  std::size_t n = 0;
  constexpr void put(char ch) { c[n++] = ch; }
  constexpr void put(std::string_view s) {
    for (char ch : s) put(ch);
  }
  constexpr void put(int v) {
    char d[12]{};
    int k = 0;
    do d[k++] = static_cast<char>('0' + v % 10), v /= 10;
    while (v > 0);
    while (k > 0) put(d[--k]);
  }
};

/// "<base>@TMxTNxTK/RMxRN/KV-staging", e.g. "pocl-avx512@64x32x32/8x32/4-direct".
template <class Base, class T>
constexpr name_buf tuned_name() {
  name_buf b;
  b.put(Base::name);
  b.put('@');
  b.put(T::tm), b.put('x'), b.put(T::tn), b.put('x'), b.put(T::tk), b.put('/');
  b.put(T::rm), b.put('x'), b.put(T::rn), b.put('/'), b.put(T::kv);
  b.put(T::mode == staging::local ? std::string_view("-local") : std::string_view("-direct"));
  return b;
}
} // namespace detail

/// A preset's device with another tiling: a policy like any other, named after both.
template <class Base, class T>
struct tuned : policy<typename Base::device, T> {
  static_assert(fits<typename Base::device, T>(), "gapp::tune::tuned: the tiling does not fit the preset's device");
  using base = Base;
  static constexpr detail::name_buf name_storage = detail::tuned_name<Base, T>();
  static constexpr std::string_view name{name_storage.c.data(), name_storage.n};
};

/// A compile-time list of tilings.
template <class... T>
struct tiling_list {
  static constexpr std::size_t size = sizeof...(T);
};

/// Tilings tried on CPU devices (vector lanes, direct staging). The register tile RM × RN
/// must fit the 32 vector registers of AVX-512 (16 of AVX2) with room for the broadcasts;
/// the work-group tile sets how many work-items PoCL runs per group and the K step how far
/// the walk runs between prefetches.
using cpu_tilings = tiling_list<
    tiling<64, 32, 32, 8, 32, 4, staging::direct>,  // pocl-avx512's preset
    tiling<64, 32, 64, 8, 32, 4, staging::direct>,  // longer K step
    tiling<64, 32, 16, 8, 32, 4, staging::direct>,  // shorter K step
    tiling<32, 32, 32, 8, 32, 4, staging::direct>,  // smaller work-group
    tiling<128, 32, 32, 8, 32, 4, staging::direct>, // taller work-group
    tiling<64, 128, 32, 8, 32, 4, staging::direct>, // four work-items along N: fewer work-groups
    tiling<64, 256, 32, 8, 32, 4, staging::direct>, // eight: at high sparsity PoCL's cost per group shows
    tiling<48, 32, 32, 12, 32, 4, staging::direct>, // 12 × 2 vectors = 24 accumulators
    tiling<96, 32, 32, 12, 32, 4, staging::direct>,
    tiling<32, 64, 32, 4, 64, 4, staging::direct>,  // 4 × 4 vectors
    tiling<64, 48, 32, 8, 48, 4, staging::direct>,  // 8 × 3 vectors (AVX-512)
    tiling<64, 32, 32, 8, 32, 8, staging::direct>,  // wider unit: 8 columns
    tiling<64, 16, 32, 8, 16, 4, staging::direct>,  // one AVX-512 vector, two of AVX2
    tiling<64, 16, 32, 16, 16, 4, staging::direct>>; // 16 × 1 vector (AVX-512), 16 × 2 (AVX2)

/// Tilings tried on GPU devices (work-item lanes, local staging): work-group tiles of 32 to
/// 128, register tiles of 4×4 to 8×8, K steps of 8 and 16.
using gpu_tilings = tiling_list<
    tiling<64, 64, 16, 4, 4, 1, staging::local>,   // the GPU presets' default
    tiling<64, 64, 8, 4, 4, 1, staging::local>,
    tiling<128, 64, 16, 8, 4, 1, staging::local>,
    tiling<64, 128, 16, 4, 8, 1, staging::local>,
    tiling<128, 128, 8, 8, 8, 1, staging::local>,
    tiling<128, 128, 16, 8, 8, 1, staging::local>,
    tiling<32, 64, 16, 4, 4, 1, staging::local>,
    tiling<64, 32, 16, 4, 4, 1, staging::local>,
    tiling<128, 64, 8, 8, 4, 1, staging::local>,
    tiling<64, 64, 16, 8, 8, 1, staging::local>,
    tiling<32, 64, 8, 4, 4, 1, staging::direct>,   // direct staging (Mali's preset)
    tiling<64, 64, 8, 4, 4, 1, staging::direct>>;

/// The tilings gapp-tune tries for a preset: CPU presets (vector lanes) get cpu_tilings,
/// GPU presets gpu_tilings.
template <class Base>
using tilings_for = std::conditional_t<Base::lanes == lane_mapping::vector, cpu_tilings, gpu_tilings>;

namespace detail {
template <class Base, class List>
struct candidates_of;
template <class Base, class... T>
struct candidates_of<Base, tiling_list<T...>> {
  /// A tiling is tried when it fits the device and is not the preset's own.
  template <class X>
  static constexpr bool tried = fits<typename Base::device, X>() && !std::is_same_v<X, typename Base::tiling>;

  template <class F>
  static void for_each(F&& f) {
    f(Base{});
    (each<T>(f), ...);
  }
  static constexpr std::size_t count = 1 + (std::size_t{0} + ... + (tried<T> ? 1 : 0));

private:
  template <class X, class F>
  static void each(F& f) {
    if constexpr (tried<X>) f(tuned<Base, X>{});
  }
};
} // namespace detail

/// The candidates of a preset: the preset itself first, then tuned<Base, T> for every tiling
/// T of tilings_for<Base> that fits its device and differs from the preset's, in the list's
/// order. Names are unique within a preset.
template <class Base, class List = tilings_for<Base>>
struct candidates {
  using impl = detail::candidates_of<Base, List>;
  static constexpr std::size_t size = impl::count;

  template <class F>
  static void for_each(F&& f) {
    impl::for_each(f);
  }

  static bool contains(std::string_view name) {
    bool found = false;
    for_each([&](auto p) { found = found || decltype(p)::name == name; });
    return found;
  }

  /// Calls f(P{}) with the candidate named `name` (f must return the same type for all);
  /// gapp::invalid_argument naming the known candidates if there is none.
  template <class F>
  static decltype(auto) visit(std::string_view name, F&& f) {
    using R = decltype(f(Base{}));
    if constexpr (std::is_void_v<R>) {
      bool done = false;
      for_each([&](auto p) {
        if (!done && decltype(p)::name == name) f(p), done = true;
      });
      if (!done) throw unknown(name);
    } else {
      std::optional<R> out;
      for_each([&](auto p) {
        if (!out && decltype(p)::name == name) out.emplace(f(p));
      });
      if (!out) throw unknown(name);
      return R(std::move(*out));
    }
  }

  static std::string names() {
    std::string s;
    for_each([&](auto p) { s += (s.empty() ? "" : ", ") + std::string(decltype(p)::name); });
    return s;
  }

private:

  static invalid_argument unknown(std::string_view name) {
    return invalid_argument("unknown tuned policy '" + std::string(name) + "' (candidates: " + names() + ")");
  }
};

/// Calls f(P{}) for the policy named `name`: a preset of presets::all, or a tuned candidate
/// "<preset>@…" of that preset. gapp::invalid_argument for an unknown name. f must return
/// the same type for every policy.
template <class F>
decltype(auto) visit_policy(std::string_view name, F&& f) {
  const auto at = name.find('@');
  if (at == std::string_view::npos) return presets::all::visit(name, f);
  return presets::all::visit(name.substr(0, at), [&](auto base) -> decltype(auto) {
    return candidates<decltype(base)>::visit(name, f);
  });
}

} // namespace gapp::tune
