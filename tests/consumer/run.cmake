# Installs gapp to a prefix, then builds and runs a consumer project against it through
# find_package(gapp), and again through add_subdirectory of the checkout.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})

include(${CMAKE_CURRENT_LIST_DIR}/step.cmake)

set(app ${GAPP_SOURCE_DIR}/tests/consumer/app)
step(${CMAKE_COMMAND} -S ${GAPP_SOURCE_DIR} -B ${WORK_DIR}/gapp-build -DCMAKE_CXX_COMPILER=${CXX}
     -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix -DGAPP_BUILD_TESTS=OFF -DGAPP_BUILD_TOOLS=OFF
     -DGAPP_BUILD_EXAMPLES=OFF)
step(${CMAKE_COMMAND} --install ${WORK_DIR}/gapp-build)

step(${CMAKE_COMMAND} -S ${app} -B ${WORK_DIR}/by-package -DCMAKE_CXX_COMPILER=${CXX}
     -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DGAPP_CONSUMER_MODE=package)
step(${CMAKE_COMMAND} --build ${WORK_DIR}/by-package)
step(${WORK_DIR}/by-package/consumer)

step(${CMAKE_COMMAND} -S ${app} -B ${WORK_DIR}/by-subdirectory -DCMAKE_CXX_COMPILER=${CXX}
     -DGAPP_CONSUMER_MODE=subdirectory -DGAPP_SOURCE_DIR=${GAPP_SOURCE_DIR})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/by-subdirectory)
step(${WORK_DIR}/by-subdirectory/consumer)
