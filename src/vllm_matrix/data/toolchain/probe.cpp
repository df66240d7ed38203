// The toolchain preflight's torch extension: one CUDA kernel behind a Python binding.
#include <torch/extension.h>

torch::Tensor add_one_cuda(torch::Tensor x);

torch::Tensor add_one(torch::Tensor x) {
  TORCH_CHECK(x.is_cuda() && x.scalar_type() == torch::kFloat32, "add_one takes a float32 CUDA tensor");
  return add_one_cuda(x.contiguous());
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("add_one", &add_one, "y = x + 1 on the GPU"); }
