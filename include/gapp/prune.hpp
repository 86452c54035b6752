// gapp/prune.hpp — the host side of gapp: policies, pruning, packing and .npy files.
// Includes no OpenCL header.
#pragma once

#include "error.hpp"
#include "io.hpp"
#include "pack.hpp"
#include "policy.hpp"
#include "prune/conv.hpp"
#include "prune/criterion.hpp"
#include "prune/global.hpp"
#include "prune/mask.hpp"
#include "prune/mask_file.hpp"
#include "prune/matrix.hpp"
#include "prune/prune.hpp"
#include "prune/reorder.hpp"
#include "prune/schedule.hpp"
#include "prune/technique.hpp"
#include "prune/units.hpp"
#include "version.hpp"
