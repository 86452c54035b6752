// Every public header in one translation unit, the OpenCL tier's included (with the system's
// CL/opencl.hpp), compiled with -Wall -Wextra -Werror -pedantic by each compiler found.
#include <gapp/io.hpp>
#include <gapp/kernels.hpp>
#include <gapp/nn.hpp>
#include <gapp/opencl.hpp>
#include <gapp/pack.hpp>
#include <gapp/policy.hpp>
#include <gapp/prune.hpp>
#include <gapp/tune.hpp>
#include <gapp/tune/advise.hpp>
#include <gapp/version.hpp>

int main() { return 0; }
