// gapp/opencl/tuned.hpp — dispatch with a device profile: the policy gapp-tune found best on
// this device (name, vendor and driver as the profile records them), or the preset dispatch
// picks, with the reason reported through tune::tuned_choice. The library never prints.
//
// f is instantiated for every preset and every tuned candidate (about a hundred policies):
// keep it small, or call dispatch_tuned<Preset> when the preset is known.
#pragma once

#include <optional>
#include <string>

#include "../tune/profile.hpp"
#include "device.hpp"

namespace gapp::opencl {

/// The device's profile from the documented locations (tune::find_profile), nothing when
/// there is none. A profile file that exists but is corrupt is a gapp::file_error naming
/// the file and the field.
inline std::optional<tune::profile> find_device_profile(const cl::Device& d) {
  const auto path = tune::find_profile(query(d));
  if (!path) return std::nullopt;
  return tune::load_profile(*path);
}

namespace detail {
/// Calls f(P{}) with the chosen candidate of Preset (checked against the device) and reports
/// the choice.
template <class Preset, class F>
decltype(auto) run_choice(const device_info& i, const tune::tuned_choice& c, F& f, tune::tuned_choice* choice) {
  if (choice) *choice = c;
  return tune::candidates<Preset>::visit(c.policy, [&](auto pol) -> decltype(auto) {
    require_can_run<decltype(pol)>(i);
    return f(pol);
  });
}
} // namespace detail

/// Calls f(P{}) with the profile's best policy for `technique` among the candidates of
/// Preset, or with Preset itself when the profile is absent, for another device or driver,
/// or holds no such policy; `choice` receives which and why.
template <class Preset, class F>
decltype(auto) dispatch_tuned(const cl::Device& d, const tune::profile* p, F&& f, tune::tuned_choice* choice = nullptr,
                              const std::string& technique = "dense") {
  const device_info i = query(d);
  return detail::run_choice<Preset>(i, tune::choose_tuned(p, i, std::string(Preset::name), technique), f, choice);
}

/// As dispatch_tuned, for one GEMM shape: the profile's best candidate on that shape when
/// the profile measured it (tune::choose_tuned with the shape), else as above.
template <class Preset, class F>
decltype(auto) dispatch_tuned(const cl::Device& d, const tune::profile* p, const tune::shape_mkn& shape, F&& f,
                              tune::tuned_choice* choice = nullptr, const std::string& technique = "dense") {
  const device_info i = query(d);
  return detail::run_choice<Preset>(i, tune::choose_tuned(p, i, std::string(Preset::name), technique, shape), f, choice);
}

/// As dispatch(d, f, choice) (the preset the device's match rules choose), then the
/// profile's best candidate of that preset when the profile fits the device.
template <class F>
decltype(auto) dispatch(const cl::Device& d, const tune::profile* p, F&& f, tune::tuned_choice* choice = nullptr,
                        const std::string& technique = "dense") {
  const policy_choice pc = choose_policy(query(d));
  return presets::all::visit(pc.name, [&](auto preset) -> decltype(auto) {
    return dispatch_tuned<decltype(preset)>(d, p, f, choice, technique);
  });
}

} // namespace gapp::opencl
