// gapp/nn.hpp — networks above the runtime: the VGG16 description and host reference,
// the technique recipe (prune, pack, operation) and the VGG16 runner on an OpenCL device.
#pragma once

#include "nn/recipe.hpp"
#include "nn/reference.hpp"
#include "nn/vgg16.hpp"
#include "nn/vgg16_net.hpp"
#include "opencl.hpp"
