// libFuzzer target: the ONNX readers of the OpenCV DNN integration (a minimal protobuf reader
// naming each layer's weights, and the model's input shape) on arbitrary bytes. Any outcome
// but a result or a gapp::file_error naming the file is a failure.
#include <gapp/integrations/opencv_dnn.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace od = gapp::integrations::opencv_dnn;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string origin = "model.onnx";
  auto named = [&](const gapp::file_error& e) {
    if (std::string_view(e.what()).rfind(origin, 0) != 0) std::abort(); // the error names the file
  };
  try {
    (void)od::onnx_weight_names(bytes, origin);
  } catch (const gapp::file_error& e) {
    named(e);
  }
  try {
    (void)od::onnx_input_shape(bytes, origin);
  } catch (const gapp::file_error& e) {
    named(e);
  }
  return 0;
}
