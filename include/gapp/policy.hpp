// gapp/policy.hpp — device descriptions, tilings, validated policies and presets.
#pragma once

#include "policy/can_implement.hpp"
#include "policy/constraints.hpp"
#include "policy/device.hpp"
#include "policy/dispatch.hpp"
#include "policy/policy.hpp"
#include "policy/presets.hpp"
#include "policy/tiling.hpp"
