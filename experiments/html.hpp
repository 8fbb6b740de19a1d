// The self-contained report of a `vaec compare`: one HTML file that opens from disk with
// nothing else (every image embedded as a base64 data URI; no external CSS, scripts or
// fonts): the command and versions, the tables, the plots, and each cell's pictures.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "experiments/study.hpp"
#include "experiments/tables.hpp"

namespace vaec::experiments {

// The report as HTML text. `plots` are base names in s.dir (BASE.png is embedded);
// each cell's *.png pictures are read from its run folder and embedded in a fixed order
// (samples, reconstructions, latent, manifold, curves, kl_per_dim, active_units, then the
// rest by name). A picture that cannot be read is named with the reason instead. Throws
// nothing of its own; the same inputs give the same bytes (no dates in it).
std::string report_html(const study& s, const text_table& results, const text_table& differences,
                        const std::vector<std::string>& plots);

// RFC 4648 base64 of `bytes` (OpenSSL's EVP_EncodeBlock), no line breaks.
std::string base64(std::string_view bytes);

}  // namespace vaec::experiments
