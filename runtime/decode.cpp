#include "runtime/decode.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <memory>

#include <boost/random/normal_distribution.hpp>
#include <boost/random/student_t_distribution.hpp>
#include <fmt/format.h>

#include "runtime/plan.hpp"
#include "runtime/run_folder.hpp"

namespace vaec::rt {

namespace {

using F = likelihood_family;

// The value of parameter k at (row, col), broadcast as the ops do: a [1] value against
// [rows], a shared or per-example value against the columns. `fallback` when absent.
struct reader {
  const plan<float>& p;
  const likelihood_nodes& l;
  double at(std::size_t k, int row, int col, double fallback) const {
    if (k >= l.params.size() || l.params[k] < 0) return fallback;
    const tensor<float> t = p.value(l.params[k]);
    const int r = t.rows == 1 ? 0 : row;
    const int c = t.cols == 1 ? 0 : col % t.cols;  // sample-major columns tile the per-example ones
    return t.data[static_cast<std::size_t>(c) * static_cast<std::size_t>(t.lead()) + static_cast<std::size_t>(r)];
  }
};

double sigmoid(double h) { return h >= 0 ? 1 / (1 + std::exp(-h)) : std::exp(h) / (1 + std::exp(h)); }
double logit(double q) { return std::log(q) - std::log1p(-q); }

// The continuous Bernoulli's natural parameter η from logits or probabilities.
double natural(const reader& rd, F f, int row, int col) {
  return f == F::cbernoulli_logits ? rd.at(0, row, col, 0) : logit(rd.at(1, row, col, 0.5));
}

// E[x] of the continuous Bernoulli with natural parameter η: e^η/(e^η − 1) − 1/η.
double cb_mean(double eta) {
  if (std::abs(eta) < 1e-3) return 0.5 + eta / 12 - eta * eta * eta / 720;
  return 1 / -std::expm1(-eta) - 1 / eta;
}

}  // namespace

std::string likelihood_name(likelihood_family f) {
  switch (f) {
    case F::none: return "none";
    case F::bernoulli_logits: case F::bernoulli_probs: return "Bernoulli";
    case F::cbernoulli_logits: case F::cbernoulli_probs: return "ContinuousBernoulli";
    case F::normal: return "Normal";
    case F::student_t: return "StudentT";
    case F::von_mises_fisher: return "VonMisesFisher";
    case F::power_spherical: return "PowerSpherical";
    case F::hyperspherical_uniform: return "HypersphericalUniform";
  }
  return "?";
}

void likelihood_mean(const likelihood_nodes& l, const plan<float>& p, int cols, std::span<float> out) {
  const reader rd{p, l};
  const int n = l.rows;
  if (out.size() < static_cast<std::size_t>(n) * static_cast<std::size_t>(cols))
    throw std::invalid_argument("likelihood_mean: output too small");
  for (int c = 0; c < cols; ++c)
    for (int i = 0; i < n; ++i) {
      double v = 0;
      switch (l.family) {
        case F::bernoulli_logits: v = sigmoid(rd.at(0, i, c, 0)); break;
        case F::bernoulli_probs: v = rd.at(1, i, c, 0.5); break;
        case F::cbernoulli_logits: case F::cbernoulli_probs: v = cb_mean(natural(rd, l.family, i, c)); break;
        case F::normal: v = rd.at(0, i, c, 0); break;
        case F::student_t: v = rd.at(1, i, c, 0); break;
        case F::von_mises_fisher: case F::power_spherical: v = rd.at(0, i, c, 0); break;
        case F::hyperspherical_uniform: case F::none:
          throw decode_error(fmt::format("the likelihood {} has no mean", likelihood_name(l.family)));
      }
      out[static_cast<std::size_t>(c) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] = static_cast<float>(v);
    }
}

void likelihood_draw(const likelihood_nodes& l, const plan<float>& p, int cols, rng& r, std::span<float> out) {
  const reader rd{p, l};
  const int n = l.rows;
  if (out.size() < static_cast<std::size_t>(n) * static_cast<std::size_t>(cols))
    throw std::invalid_argument("likelihood_draw: output too small");
  boost::random::normal_distribution<double> normal;
  for (int c = 0; c < cols; ++c)
    for (int i = 0; i < n; ++i) {
      double v = 0;
      switch (l.family) {
        case F::bernoulli_logits: v = r.uniform() < sigmoid(rd.at(0, i, c, 0)) ? 1 : 0; break;
        case F::bernoulli_probs: v = r.uniform() < rd.at(1, i, c, 0.5) ? 1 : 0; break;
        case F::cbernoulli_logits: case F::cbernoulli_probs: {
          const double eta = natural(rd, l.family, i, c), u = r.uniform();
          v = std::abs(eta) < 1e-8 ? u : std::log1p(u * std::expm1(eta)) / eta;
          break;
        }
        case F::normal: v = rd.at(0, i, c, 0) + rd.at(1, i, c, 1) * normal(r); break;
        case F::student_t: {
          boost::random::student_t_distribution<double> t(rd.at(0, i, c, 1));
          v = rd.at(1, i, c, 0) + rd.at(2, i, c, 1) * t(r);
          break;
        }
        default:
          throw decode_error(fmt::format("drawing x from a {} likelihood is not supported; use the mean (--mean)",
                                         likelihood_name(l.family)));
      }
      out[static_cast<std::size_t>(c) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] = static_cast<float>(v);
    }
}

void forward_batches(const graph& g, std::span<const float> params, std::size_t count, int batch, std::uint64_t seed,
                     stream purpose, const std::function<void(plan<float>&, std::size_t, int)>& fill,
                     const std::function<void(const plan<float>&, std::size_t, int)>& take) {
  if (params.size() != g.param_storage()) throw std::invalid_argument("forward_batches: parameters of another graph");
  if (count == 0) return;
  parameters<float> ps(g);
  ps.values.assign(params.begin(), params.end());
  const int full = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(batch), count));
  plan<float> main(g, ps, full, 1, false);
  const int rest = static_cast<int>(count % static_cast<std::size_t>(full));
  std::unique_ptr<plan<float>> tail;
  if (rest > 0) tail = std::make_unique<plan<float>>(g, ps, rest, 1, false);
  std::uint64_t index = 0;
  for (std::size_t from = 0; from < count; from += static_cast<std::size_t>(full)) {
    const int n = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(full), count - from));
    plan<float>& p = n == full ? main : *tail;
    fill(p, from, n);
    rng noise(seed, purpose, index++);
    p.forward(noise);
    take(p, from, n);
  }
}

namespace {

// NPY format 1.0 (numpy.lib.format): magic, version, header length (little-endian u16), a
// Python dict literal padded with spaces so that the data start at a multiple of 64 bytes,
// ending with a newline.
std::string npy_header(const char* descr, const std::string& shape) {
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  return out;
}

}  // namespace

void write_npy(const std::string& path, std::span<const float> values, std::size_t rows, std::size_t cols) {
  std::string out = npy_header("<f4", fmt::format("({}, {})", cols, rows));
  // (cols, rows) in C order is our column-major [rows × cols]: the same bytes.
  out.append(reinterpret_cast<const char*>(values.data()), rows * cols * sizeof(float));
  write_file_atomically(path, out);
}

void write_npy(const std::string& path, std::span<const double> values) {
  static_assert(std::endian::native == std::endian::little, "the .npy is written as '<f8', little-endian");
  std::string out = npy_header("<f8", fmt::format("({},)", values.size()));
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
  write_file_atomically(path, out);
}

void write_csv(const std::string& path, std::span<const float> values, std::size_t rows, std::size_t cols) {
  std::string out;
  for (std::size_t c = 0; c < cols; ++c) {
    for (std::size_t r = 0; r < rows; ++r) {
      if (r) out += ',';
      out += fmt::format("{:.9g}", values[c * rows + r]);
    }
    out += '\n';
  }
  write_file_atomically(path, out);
}

}  // namespace vaec::rt
