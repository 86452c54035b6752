#error "an OpenCL header was included: <gapp/prune.hpp> must not include any"
