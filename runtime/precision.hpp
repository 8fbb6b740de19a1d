// The precision of a float product's inputs, apart from the products themselves
// (runtime/matmul.hpp), so that headers above the runtime (train.hpp, and the language's
// lower.hpp through it) need no Eigen.
#pragma once

#include <string>

namespace vaec::rt {

// fp32, or bf16 (inputs rounded to bfloat16 — 8 significant bits — with products
// accumulated in fp32; Kalamkar et al. 2019, "A Study of BFLOAT16 for Deep Learning
// Training"). Master weights, gradients and Adam stay fp32.
enum class precision { fp32, bf16 };
std::string to_string(precision p);  // "fp32", "bf16" (defined in runtime/matmul.cpp)

}  // namespace vaec::rt
