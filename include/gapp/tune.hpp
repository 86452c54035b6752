// gapp/tune.hpp — device profiles and the candidate policies gapp-tune measures (host-only;
// <gapp/opencl/tuned.hpp> dispatches with a profile).
#pragma once

#include "tune/candidates.hpp"
#include "tune/profile.hpp"
