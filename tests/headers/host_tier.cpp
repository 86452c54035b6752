// Every header of the host tier in one translation unit, compiled with -Wall -Wextra -Werror
// -pedantic by each compiler found and OpenCL headers replaced by #error traps: a construct
// one compiler takes and another refuses (as g++ takes a lambda capturing a structured
// binding, which C++17 forbids and clang refuses) fails here, not in a user's build.
#include <gapp/io.hpp>
#include <gapp/kernels.hpp>
#include <gapp/nn/vgg16.hpp>
#include <gapp/pack.hpp>
#include <gapp/policy.hpp>
#include <gapp/prune.hpp>
#include <gapp/tune.hpp>
#include <gapp/tune/advise.hpp>
#include <gapp/version.hpp>

int main() { return 0; }
