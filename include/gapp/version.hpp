// gapp/version.hpp
#pragma once

#define GAPP_VERSION_MAJOR 0
#define GAPP_VERSION_MINOR 1
#define GAPP_VERSION_PATCH 0
#define GAPP_VERSION_STRING "0.1.0"
