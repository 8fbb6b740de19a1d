// Writes vaec compare's outputs (results.csv, differences.csv, table.md, table.tex, the
// plots, report.html) for an existing compare folder, as `vaec compare` does at its end:
// for tests/cli/tables.sh and for redrawing a folder's tables by hand.
// usage: vaec_compare_outputs DIR      exit 0, 1 (the folder cannot be used), 2 (usage)
#include <exception>
#include <filesystem>
#include <iostream>

#include "experiments/tables.hpp"

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]).empty() || argv[1][0] == '-') {
    std::cerr << "usage: vaec_compare_outputs DIR  (DIR: a vaec compare folder holding compare.json)\n";
    return 2;
  }
  try {
    vaec::experiments::write_compare_outputs(argv[1], std::cout);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "vaec_compare_outputs: error: " << e.what() << "\n";
    return 1;
  }
}
